"""Archive integrity checks: prove every document is present, intact, correctly filed and linked.

Built like paperless-ngx's sanity checker: small check functions add :class:`Finding` objects
to a :class:`Findings` collector; only the caller (flow, CLI) turns them into exit codes.

Modes (:class:`Mode`):

- ``full``: stream-hash every referenced object and check every PDF's structure.
- ``incremental``: hash only objects not verified within ``scrub_days`` (a rolling scrub:
  ``object_verification`` remembers when each object last passed every content check); the
  rest get the metadata checks.
- ``metadata``: no content reads at all: the listing and the database.

A PDF's structure (opens, page count, text layer) is checked with pypdf the first time its
bytes are verified; the verification stamp keeps what pypdf found (:class:`PdfFacts`) with the
digest. Later content reads that hash the same digest judge the record against those facts
instead of opening the PDF again (equal digests, equal bytes); new bytes, a record whose
digest changed, or a text layer never looked for open it again, and so does ``deep``.

Two passes. The document pass reads documents in pages (keyset pagination, one short
transaction per page, so SQLite's write lock is never held for long) and runs the database-only
checks; expected keys are cached per naming input. The object pass joins the documents'
references, streamed in key order, with one listing of the archive prefixes (also in key order):
presence and size come from the listing (no request per object), a listed object no reference
matched is an orphan once the database agrees, and only an object the listing did not show is
asked for with ``head``. Content reads run in a bounded thread pool (hashlib releases the GIL;
each thread reads into one reused 1 MiB buffer), except small objects whose bytes the store
already holds in memory (the page cache): those are read in the calling thread, where they
cost less than the hand-over to a worker; reads that would wait for a disk still overlap in
the pool. Memory stays bounded: pages, batches and reads in flight are all capped, whatever
the size of the archive.

A finding's fingerprint (kind, object key, document id, subject) is stable, so
:func:`record_run` can mark findings new or still open and the previous run's others resolved.
:func:`repair` never deletes data: it re-links orphans to records whose object is missing, moves
drifted objects back to their computed key and moves other orphans under ``lost+found/``.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import io
import itertools
import logging
import re
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any, BinaryIO, TypeVar

import sqlalchemy as sa
from pypdf import PdfReader
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from archive.errors import InvalidKeyError, ObjectNotFoundError, StorageError
from archive.linking import field_value
from archive.naming import archive_key, first_free_key, original_key, with_collision_suffix
from archive.storage.base import ObjectInfo, ObjectStore, copy_hashing, hash_stream
from config.errors import DossierError
from config.settings import Settings
from config.taxonomy import Taxonomy, Templates
from models import repo
from models.audit import SYSTEM_ACTOR
from models.customer import Customer
from models.db import session_scope, utcnow
from models.document import Document
from models.runs import (
    FindingStatus,
    IntegrityFinding,
    IntegrityRun,
    ObjectVerification,
    RunStatus,
    Severity,
)

log = logging.getLogger(__name__)

MIB = 1024 * 1024
#: Read buffer per worker thread (content is hashed in place, no copies).
READ_BUFFER_BYTES = MIB
#: Cached expected-key pairs (naming is pure; about 0.4 ms per document uncached).
KEY_CACHE_SIZE = 4096
#: Most objects handed to the pool after a failed in-memory read before the next attempt.
MAX_MEMORY_BACKOFF = 256
LOST_AND_FOUND_PREFIX = "lost+found"
#: Statuses of documents that are in effect or on their way (checked for expiry, checklists).
ACTIVE_STATUSES = ("pending_review", "archived", "updating")
#: Field holding the end of validity, per document type (see config/understanding.toml).
EXPIRY_FIELDS = {"business_license": "term_end", "id_card": "valid_to", "contract": "expiry_date"}
#: Words meaning "never expires" (as in ingest.fields.LONG_TERM_WORDS; archive cannot import it).
LONG_TERM_WORDS = ("长期", "永久", "无固定期限", "不约定期限")


class Mode(StrEnum):
    """How much of the content a run reads."""

    FULL = "full"
    INCREMENTAL = "incremental"
    METADATA = "metadata"


#: Every finding kind: its severity and a label for people.
KINDS: dict[str, tuple[Severity, str]] = {
    "object_missing": (Severity.CRITICAL, "对象缺失"),
    "object_unreadable": (Severity.CRITICAL, "对象无法读取"),
    "size_mismatch": (Severity.CRITICAL, "对象大小与记录不符"),
    "checksum_mismatch": (Severity.CRITICAL, "校验和与记录不符"),
    "pdf_unreadable": (Severity.CRITICAL, "PDF 无法打开"),
    "page_count_mismatch": (Severity.WARNING, "页数与记录不符"),
    "no_text_layer": (Severity.WARNING, "已识别的文档缺少文字层"),
    "key_drift": (Severity.WARNING, "存放位置与命名规则不符"),
    "orphan": (Severity.WARNING, "无记录引用的对象"),
    "duplicate_sha256": (Severity.WARNING, "多条记录的文件内容相同"),
    "review_stale": (Severity.WARNING, "待审核时间过长"),
    "expired": (Severity.WARNING, "证照已过期"),
    "expiring": (Severity.INFO, "证照即将过期"),
    "checklist_missing": (Severity.WARNING, "缺少必备资料"),
    "invariant_archived_without_customer": (Severity.WARNING, "已归档但未关联客户"),
    "invariant_superseded_without_successor": (Severity.WARNING, "已替换但没有新版本"),
    "invariant_no_object": (Severity.CRITICAL, "记录没有对象键"),
    "invariant_shared_key": (Severity.CRITICAL, "多条记录指向同一个 PDF 对象"),
    "quarantine_stale": (Severity.WARNING, "隔离文件长期未处理"),
}
#: Kinds only a content read can find or clear (a metadata run carries them over).
CONTENT_KINDS = frozenset({"checksum_mismatch", "pdf_unreadable", "page_count_mismatch",
                           "no_text_layer"})

T = TypeVar("T")


# --- findings ---------------------------------------------------------------------------------


def fingerprint_of(
    *, kind: str, object_key: str | None, document_id: int | None, subject: str | None
) -> str:
    """A stable identity of a problem across runs (hex SHA-256)."""
    text = "\x1f".join((kind, object_key or "", str(document_id or ""), subject or ""))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Finding:
    """One problem. ``subject`` identifies it when document and key do not (e.g. a customer)."""

    kind: str
    message: str
    document_id: int | None = None
    object_key: str | None = None
    subject: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        return KINDS[self.kind][0]

    @property
    def label(self) -> str:
        return KINDS[self.kind][1]

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(
            kind=self.kind,
            object_key=self.object_key,
            document_id=self.document_id,
            subject=self.subject,
        )


def exit_code_for(severities: Iterable[str]) -> int:
    """0 clean (or info only), 1 at least one warning, 2 at least one critical finding."""
    seen = set(severities)
    if Severity.CRITICAL in seen:
        return 2
    return 1 if Severity.WARNING in seen else 0


class Findings:
    """The collector the checks add to."""

    def __init__(self) -> None:
        self._items: list[Finding] = []

    def add(
        self,
        kind: str,
        message: str,
        *,
        document_id: int | None = None,
        object_key: str | None = None,
        subject: str | None = None,
        **detail: Any,
    ) -> Finding:
        """Record a finding of ``kind`` (one of :data:`KINDS`)."""
        if kind not in KINDS:
            raise ValueError(f"unknown finding kind: {kind}")
        item = Finding(kind, message, document_id, object_key, subject, detail)
        self._items.append(item)
        return item

    def extend(self, items: Iterable[Finding]) -> None:
        self._items.extend(items)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self._items if f.kind == kind]

    def counts(self) -> dict[str, int]:
        """Number of findings per severity."""
        counter = Counter(str(f.severity) for f in self._items)
        return {str(s): counter.get(str(s), 0) for s in Severity}

    def exit_code(self) -> int:
        return exit_code_for(f.severity for f in self._items)


def _finding(kind: str, message: str, **kw: Any) -> Finding:
    detail = kw.pop("detail", {})
    return Finding(kind, message, **kw, detail=detail)


# --- options and rows -------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOptions:
    """What a run checks and how; build from settings with :meth:`from_settings`."""

    mode: Mode = Mode.FULL
    now: datetime = field(default_factory=utcnow)
    scrub_days: int = 7
    review_stale_days: int = 7
    expiry_warning_days: int = 30
    quarantine_stale_days: int = 14
    workers: int = 4
    page_size: int = 500
    check_pdf: bool = True
    #: Open every PDF with pypdf, even bytes an earlier run already opened (see ``PdfFacts``).
    deep: bool = False
    spool_bytes: int = 16 * MIB
    #: Objects up to this size whose bytes the store holds in memory are checked in the
    #: calling thread: handing them to a worker costs more than reading them. Larger ones, and
    #: any that would wait for a disk or the network, go to the pool. 0: always the pool.
    inline_read_bytes: int = 128 * 1024

    @classmethod
    def from_settings(
        cls, settings: Settings, *, mode: Mode | str, now: datetime | None = None, **kw: Any
    ) -> CheckOptions:
        """Options from validated settings; ``kw`` overrides (e.g. ``workers``)."""
        values: dict[str, Any] = {
            "mode": Mode(mode),
            "scrub_days": settings.scrub_days,
            "review_stale_days": settings.review_stale_days,
            "expiry_warning_days": settings.expiry_warning_days,
            "quarantine_stale_days": settings.quarantine_stale_days,
            "workers": max(2, min(8, settings.workers * 2)),
            **kw,
        }
        if now is not None:
            values["now"] = now
        return cls(**values)

    @property
    def today(self) -> date:
        """The calendar day in China (where documents' dates are read)."""
        return self.now.astimezone(repo.CHINA_TZ).date()


@dataclass(frozen=True)
class DocRow:
    """The columns of a document (and its customer) the checks need; no OCR text."""

    id: int
    customer_id: int | None
    customer_code: str | None
    customer_name: str | None
    customer_type: str | None
    document_type: str
    status: str
    submitted_date: date
    original_filename: str
    original_key: str | None
    original_sha256: str
    original_size: int
    pdf_key: str | None
    pdf_sha256: str | None
    pdf_size: int | None
    page_count: int | None
    has_text: bool
    fields: Mapping[str, Any]
    created_at: datetime


def _doc_query(after_id: int, limit: int) -> Any:
    d = Document
    has_text = sa.and_(col(d.ocr_text).is_not(None), func.length(d.ocr_text) > 0)
    return (
        select(
            d.id, d.customer_id, Customer.code, Customer.name, Customer.customer_type,
            d.document_type, d.status, d.submitted_date, d.original_filename, d.original_key,
            d.original_sha256, d.original_size, d.pdf_key, d.pdf_sha256, d.pdf_size,
            d.page_count, has_text.label("has_text"), d.fields, d.created_at,
        )
        .outerjoin(Customer, col(Customer.id) == col(d.customer_id))
        .where(col(d.id) > after_id)
        .order_by(col(d.id))
        .limit(limit)
    )


def iter_document_pages(engine: Engine, *, page_size: int = 500) -> Iterator[list[DocRow]]:
    """Every document as :class:`DocRow`, in id order, ``page_size`` at a time."""
    after = 0
    while True:
        with Session(engine) as session:
            rows = session.exec(_doc_query(after, page_size)).all()
        if not rows:
            return
        yield [DocRow(*row[:16], bool(row[16]), row[17] or {}, row[18]) for row in rows]
        after = rows[-1][0]


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- per-document checks (database only) ----------------------------------------------------


def _suffix_pattern(expected: str) -> re.Pattern[str]:
    marker = 987654321
    before, _, after = with_collision_suffix(expected, marker).rpartition(str(marker))
    return re.compile(re.escape(before) + r"([1-9][0-9]*)" + re.escape(after))


def matches_expected_key(actual: str, expected: str) -> bool:
    """``actual`` is ``expected`` or ``expected`` with a collision suffix (``-2``, ``-3`` ...)."""
    if actual == expected:
        return True
    match = _suffix_pattern(expected).fullmatch(actual)
    return bool(match) and int(match.group(1)) >= 2


def expected_keys(row: DocRow, taxonomy: Taxonomy) -> tuple[str, str]:
    """Where the naming rules put this document's PDF and original, from its current fields.

    The naming functions are pure, so results are cached per naming input (customer type and
    name, document type, date, extension): documents of one customer, type and day share them.

    Raises:
        DossierError: Unknown type in the taxonomy, or a name that cannot become a key.
    """
    ctype = taxonomy.customer_type(row.customer_type).label if row.customer_type else None
    return _keys_for(
        taxonomy.templates, ctype, row.customer_name,
        taxonomy.document_type(row.document_type).label, row.submitted_date,
        PurePosixPath(row.original_filename).suffix.lower(),
    )


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def _keys_for(
    templates: Templates, customer_type_label: str | None, customer_name: str | None,
    document_type_label: str, submitted: date, ext: str,
) -> tuple[str, str]:
    names: dict[str, Any] = {
        "templates": templates,
        "customer_type_label": customer_type_label,
        "customer_name": customer_name,
        "document_type_label": document_type_label,
        "submitted": submitted,
    }
    return archive_key(**names), original_key(**names, original_ext=ext)


def check_key_drift(
    row: DocRow, *, taxonomy: Taxonomy, shared_originals: frozenset[str] = frozenset()
) -> list[Finding]:
    """A key that is not where the naming rules put the document now (e.g. after a rename).

    An original shared by several documents (one bundle file) is named after the first part
    only, so it is not judged here.
    """
    try:
        pdf_expected, original_expected = expected_keys(row, taxonomy)
    except DossierError as e:
        log.warning("document %s: cannot compute its key: %s", row.id, e)
        return []
    out = []
    for role, actual, wanted, sha in (
        ("pdf", row.pdf_key, pdf_expected, row.pdf_sha256),
        ("original", row.original_key, original_expected, row.original_sha256),
    ):
        if actual is None or matches_expected_key(actual, wanted):
            continue
        if role == "original" and actual in shared_originals:
            continue
        out.append(_finding(
            "key_drift", f"资料 {row.id} 的对象不在命名规则规定的位置，应为 {wanted}",
            document_id=row.id, object_key=actual,
            detail={"role": role, "expected_key": wanted, "sha256": sha},
        ))
    return out


def check_review_stale(row: DocRow, *, options: CheckOptions) -> list[Finding]:
    """A document waiting in review longer than ``review_stale_days``."""
    if row.status != "pending_review":
        return []
    age = options.now - row.created_at
    if age <= timedelta(days=options.review_stale_days):
        return []
    days = age.days
    return [_finding(
        "review_stale", f"资料 {row.id} 已待审核 {days} 天",
        document_id=row.id, detail={"days_waiting": days, "limit_days": options.review_stale_days},
    )]


def _end_date(value: str | None) -> date | None:
    if not value or any(word in value for word in LONG_TERM_WORDS):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def check_expiry(row: DocRow, *, options: CheckOptions) -> list[Finding]:
    """A license, ID or contract that has expired or expires within ``expiry_warning_days``."""
    name = EXPIRY_FIELDS.get(row.document_type)
    if name is None or row.status not in ACTIVE_STATUSES:
        return []
    end = _end_date(field_value(row.fields, name))
    if end is None:
        return []
    today = options.today
    detail = {"field": name, "valid_until": end.isoformat(), "customer_code": row.customer_code}
    if end < today:
        return [_finding("expired", f"资料 {row.id} 已于 {end.isoformat()} 过期",
                         document_id=row.id, detail=detail)]
    if end <= today + timedelta(days=options.expiry_warning_days):
        return [_finding("expiring", f"资料 {row.id} 将于 {end.isoformat()} 过期",
                         document_id=row.id, detail=detail)]
    return []


def check_row_invariants(row: DocRow) -> list[Finding]:
    """Rules a single row must keep: archived means linked; a live document has objects."""
    out = []
    if row.status == "archived" and row.customer_id is None:
        out.append(_finding("invariant_archived_without_customer",
                            f"资料 {row.id} 已归档但未关联客户", document_id=row.id))
    if row.status != "rejected" and (row.pdf_key is None or row.original_key is None):
        out.append(_finding(
            "invariant_no_object", f"资料 {row.id} 的记录缺少对象键", document_id=row.id,
            detail={"pdf_key": row.pdf_key, "original_key": row.original_key},
        ))
    return out


def check_document_row(
    row: DocRow,
    *,
    taxonomy: Taxonomy,
    options: CheckOptions,
    shared_originals: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Every database-only check of one document."""
    return [
        *check_key_drift(row, taxonomy=taxonomy, shared_originals=shared_originals),
        *check_review_stale(row, options=options),
        *check_expiry(row, options=options),
        *check_row_invariants(row),
    ]


# --- object checks (store reads, run in worker threads) ---------------------------------------


@dataclass(frozen=True)
class PdfFacts:
    """What pypdf found in the bytes of digest ``sha256``.

    ``text`` tells whether a page shows text; None when it was not looked for (the record
    expected no text layer). Stored with an object's verification stamp, so that a later run
    which hashes the same digest can judge the record against them without opening the PDF:
    equal digests mean equal bytes, and pypdf finds the same in equal bytes.
    """

    sha256: str | None
    pages: int
    text: bool | None


@dataclass(frozen=True)
class ObjectRef:
    """One object a document references, with what its record says about it.

    ``proven`` holds the PDF facts of the object's last verification (None if there is none);
    they count only while the bytes still hash to ``proven.sha256``.
    """

    key: str
    document_id: int
    role: str  # "pdf" or "original"
    sha256: str | None
    size: int | None
    page_count: int | None = None
    expect_text: bool = False
    read_content: bool = True
    proven: PdfFacts | None = None


@dataclass
class ObjectOutcome:
    ref: ObjectRef
    findings: list[Finding] = field(default_factory=list)
    hashed_bytes: int = 0
    read: bool = False  # the content was streamed and hashed
    verified: bool = False
    pdf: PdfFacts | None = None  # what is known of these bytes as a PDF (stamped when verified)
    pdf_opened: bool = False  # pypdf opened the bytes in this run


def _ref_finding(ref: ObjectRef, kind: str, message: str, **detail: Any) -> Finding:
    return _finding(kind, message, document_id=ref.document_id, object_key=ref.key,
                    detail={"role": ref.role, **detail})


_TEXT_SHOWING = re.compile(rb"T[jJ](?![A-Za-z0-9])")


def _shows_text(contents: Any) -> bool:
    """Whether a page's content stream shows text (``Tj``/``TJ``), even invisible OCR text.

    Looking for text-showing operators is much cheaper than extracting the text, and an OCR
    layer (render mode 3) counts as text just the same.
    """
    try:
        data = contents.get_data() if contents is not None else b""
    except Exception:  # noqa: BLE001 - pypdf raises many types on damaged content
        return False
    return b"BT" in data and _TEXT_SHOWING.search(data) is not None


def read_pdf_facts(stream: BinaryIO, ref: ObjectRef, *, sha256: str | None) -> (
        PdfFacts | Finding):
    """Open a PDF with pypdf: its facts, or a ``pdf_unreadable`` finding.

    One pass over the pages: each page's content stream is resolved once (a damaged one makes
    the PDF unreadable) and, when the record expects a text layer and until a page showing
    text is found, searched for text operators.
    """
    try:
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            return _ref_finding(ref, "pdf_unreadable", f"PDF 已加密: {ref.key}",
                                error="encrypted")
        pages = reader.pages
        count = len(pages)
        text = False
        for page in pages:
            contents = page.get_contents()
            text = text or (ref.expect_text and _shows_text(contents))
    except Exception as e:  # noqa: BLE001 - pypdf raises many types on damaged files
        return _ref_finding(ref, "pdf_unreadable", f"PDF 无法打开: {ref.key}",
                            error=type(e).__name__)
    return PdfFacts(sha256, count, text if ref.expect_text else None)


def judge_pdf(ref: ObjectRef, facts: PdfFacts) -> list[Finding]:
    """The record against a PDF's facts: page count as recorded, text layer when OCR'd."""
    out = []
    if ref.page_count is not None and facts.pages != ref.page_count:
        out.append(_ref_finding(ref, "page_count_mismatch",
                                f"PDF 有 {facts.pages} 页，记录为 {ref.page_count} 页: {ref.key}",
                                expected=ref.page_count, actual=facts.pages))
    if ref.expect_text and not facts.text:
        out.append(_ref_finding(ref, "no_text_layer", f"PDF 没有可提取的文字层: {ref.key}"))
    return out


def proven_facts(ref: ObjectRef) -> PdfFacts | None:
    """Facts that make pypdf unnecessary if the bytes still hash to the recorded digest.

    Usable when the last verification saw the digest the record holds now, and either found a
    text layer or the record expects none. Anything else (no verification, another digest, no
    digest recorded, text never looked for) opens the PDF.
    """
    facts = ref.proven
    if facts is None or ref.sha256 is None or facts.sha256 != ref.sha256:
        return None
    return facts if facts.text or not ref.expect_text else None


_read_buffers = threading.local()


def _read_buffer() -> memoryview:
    """This thread's reusable read buffer (no allocation per read or per object)."""
    view = getattr(_read_buffers, "view", None)
    if view is None:
        view = memoryview(bytearray(READ_BUFFER_BYTES))
        _read_buffers.view = view
    return view


def hash_into_buffer(stream: BinaryIO) -> tuple[str, int]:
    """SHA-256 hex digest and size of the rest of ``stream``, read into a reused buffer.

    ``readinto`` fills one 1 MiB buffer per thread, and hashlib releases the GIL while it
    hashes, so several threads hash at once.
    """
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        return hash_stream(stream)
    view = _read_buffer()
    digest = hashlib.sha256()
    size = 0
    while n := readinto(view):
        digest.update(view[:n])
        size += n
    return digest.hexdigest(), size


@dataclass(frozen=True)
class _Content:
    digest: str
    size: int
    pdf: PdfFacts | Finding | None = None  # facts, or why pypdf could not open the bytes
    opened: bool = False  # pypdf opened the bytes


def _read_content(
    store: ObjectStore, ref: ObjectRef, *, open_pdf: bool, spool_bytes: int, size_hint: int
) -> _Content:
    """Hash the object as a stream. With ``open_pdf`` the bytes are kept (in memory up to
    ``spool_bytes``, else in a temporary file) so that pypdf can open them without a second
    read; otherwise the proven facts are carried over when the digest is theirs."""
    with store.open(ref.key, verify=False) as stream:
        if not open_pdf:
            digest, size = hash_into_buffer(stream)
            return _Content(digest, size, _carried(ref, digest))
        with _buffer(size_hint, spool_bytes) as buffer:
            digest, size = copy_hashing(stream, buffer)
            if ref.sha256 is not None and digest != ref.sha256:
                return _Content(digest, size)
            buffer.seek(0)
            return _Content(digest, size, read_pdf_facts(buffer, ref, sha256=digest), True)


def _carried(ref: ObjectRef, digest: str) -> PdfFacts | None:
    """The proven facts, if they are facts about the bytes just hashed."""
    proven = ref.proven
    return proven if proven is not None and proven.sha256 == digest else None


def _buffer(size_hint: int, spool_bytes: int) -> BinaryIO:
    # BytesIO, not SpooledTemporaryFile: pypdf reads byte by byte, and the spooled file's
    # Python-level read() wrapper made opening a PDF several times slower.
    if size_hint <= spool_bytes:
        return io.BytesIO()
    return tempfile.TemporaryFile()  # noqa: SIM115 - used as a context manager by the caller


def check_object(
    store: ObjectStore,
    ref: ObjectRef,
    *,
    check_pdfs: bool = True,
    deep: bool = False,
    spool_bytes: int = 16 * MIB,
    info: ObjectInfo | None = None,
) -> ObjectOutcome:
    """Check one object: present, size, then (when ``ref.read_content``) content and PDF.

    One finding at most per cause: a size mismatch is not also reported as a checksum
    mismatch, and a PDF is only judged when its bytes are the recorded ones. A PDF whose
    recorded digest already passed pypdf (``ref.proven``) is only hashed: if the digest is
    still the recorded one, the record is judged against the proven facts.

    Args:
        store: The object store.
        ref: The object and what its record says about it.
        check_pdfs: Check PDFs' structure (pypdf, or facts proven by an earlier run).
        deep: Open every PDF with pypdf, even bytes with proven facts.
        spool_bytes: PDFs up to this size are held in memory for pypdf, larger ones spooled.
        info: What a listing said about the object (its size); None asks the store (``head``).
    """
    outcome = ObjectOutcome(ref)
    if info is None:
        try:
            info = store.head(ref.key)
        except ObjectNotFoundError:
            outcome.findings.append(_ref_finding(
                ref, "object_missing", f"对象缺失: {ref.key}", sha256=ref.sha256, size=ref.size))
            return outcome
        except (StorageError, InvalidKeyError) as e:
            outcome.findings.append(_ref_finding(ref, "object_unreadable",
                                                 f"对象无法读取: {ref.key}", error=str(e.code)))
            return outcome
    if ref.size is not None and info.size != ref.size:
        outcome.findings.append(_ref_finding(ref, "size_mismatch", f"对象大小与记录不符: {ref.key}",
                                             expected=ref.size, actual=info.size))
        return outcome
    if not ref.read_content:
        if ref.sha256 and info.sha256 and info.sha256 != ref.sha256:
            outcome.findings.append(_ref_finding(
                ref, "checksum_mismatch", f"对象校验和与记录不符: {ref.key}",
                expected=ref.sha256, actual=info.sha256, source="metadata"))
        return outcome
    return _check_content(store, ref, outcome, check_pdfs=check_pdfs, deep=deep,
                          spool_bytes=spool_bytes, size_hint=info.size)


def _check_content(
    store: ObjectStore, ref: ObjectRef, outcome: ObjectOutcome, *, check_pdfs: bool, deep: bool,
    spool_bytes: int, size_hint: int,
) -> ObjectOutcome:
    pdf_checks = check_pdfs and ref.role == "pdf"
    open_pdf = pdf_checks and (deep or proven_facts(ref) is None)
    try:
        content = _read_content(store, ref, open_pdf=open_pdf, spool_bytes=spool_bytes,
                                size_hint=size_hint)
    except ObjectNotFoundError:
        outcome.findings.append(_ref_finding(ref, "object_missing", f"对象缺失: {ref.key}",
                                             sha256=ref.sha256, size=ref.size))
        return outcome
    except (StorageError, OSError) as e:
        code = str(e.code) if isinstance(e, DossierError) else type(e).__name__
        outcome.findings.append(_ref_finding(ref, "object_unreadable",
                                             f"对象无法读取: {ref.key}", error=code))
        return outcome
    return _record_content(ref, outcome, content, pdf_checks=pdf_checks)


def _record_content(
    ref: ObjectRef, outcome: ObjectOutcome, content: _Content, *, pdf_checks: bool
) -> ObjectOutcome:
    outcome.hashed_bytes = content.size
    outcome.read = True
    outcome.pdf_opened = content.opened
    if ref.sha256 is not None and content.digest != ref.sha256:
        outcome.findings.append(_ref_finding(
            ref, "checksum_mismatch", f"对象内容与记录的校验和不符: {ref.key}",
            expected=ref.sha256, actual=content.digest, source="content"))
        return outcome
    if isinstance(content.pdf, Finding):
        outcome.findings.append(content.pdf)
    elif content.pdf is not None:
        outcome.pdf = content.pdf
        if pdf_checks:
            outcome.findings.extend(judge_pdf(ref, content.pdf))
    outcome.verified = not outcome.findings and ref.sha256 is not None
    return outcome


def check_in_memory(
    store: ObjectStore, ref: ObjectRef, *, info: ObjectInfo, check_pdfs: bool = True,
    deep: bool = False,
) -> ObjectOutcome | None:
    """:func:`check_object`'s content checks in this thread, if the store can read the whole
    object without waiting (its bytes are in memory) into this thread's buffer; else None.

    The same findings as :func:`check_object` for an object the listing showed (``info``).
    None also when the listing already decides (no content read planned, size differs).
    """
    if not ref.read_content or ref.size not in (None, info.size):
        return None
    view = _read_buffer()
    if info.size >= len(view):
        return None
    size = store.read_in_memory(ref.key, view[: info.size + 1])
    if size is None:
        return None
    data = view[:size]
    digest = hashlib.sha256(data).hexdigest()
    pdf_checks = check_pdfs and ref.role == "pdf"
    if not pdf_checks or not (deep or proven_facts(ref) is None):
        content = _Content(digest, size, _carried(ref, digest))
    elif ref.sha256 is not None and digest != ref.sha256:
        content = _Content(digest, size)
    else:
        facts = read_pdf_facts(io.BytesIO(data), ref, sha256=digest)
        content = _Content(digest, size, facts, True)
    return _record_content(ref, ObjectOutcome(ref), content, pdf_checks=pdf_checks)


# --- documents' references, sorted by key -------------------------------------------------------


def _ref_query(role: str, *, after: tuple[str, int] | None, limit: int, dialect: str) -> Any:
    """One page of ``role`` references ordered by (key, document id), in code-point order."""
    t = Document.__table__  # type: ignore[attr-defined]
    if role == "pdf":
        key, sha, size = t.c.pdf_key, t.c.pdf_sha256, t.c.pdf_size
        has_text = sa.and_(t.c.ocr_text.is_not(None), func.length(t.c.ocr_text) > 0)
        extra: tuple[Any, ...] = (t.c.page_count, has_text)
    else:
        key, sha, size = t.c.original_key, t.c.original_sha256, t.c.original_size
        extra = ()
    # PostgreSQL sorts text by the database's collation; "C" is byte (= code point) order,
    # the order of S3 listings and of the local store's listing. SQLite compares bytes.
    ordered = key.collate("C") if dialect == "postgresql" else key
    query = sa.select(key, t.c.id, sha, size, *extra).where(key.is_not(None))
    if after is not None:
        query = query.where(sa.tuple_(ordered, t.c.id) > sa.tuple_(*after))
    return query.order_by(ordered, t.c.id).limit(limit)


def _role_refs(engine: Engine, role: str, *, page_size: int) -> Iterator[ObjectRef]:
    after: tuple[str, int] | None = None
    while True:
        with engine.begin() as conn:
            rows = conn.execute(_ref_query(role, after=after, limit=page_size,
                                           dialect=engine.dialect.name)).all()
        if not rows:
            return
        for row in rows:
            if role == "pdf":
                yield ObjectRef(row[0], row[1], "pdf", row[2], row[3], page_count=row[4],
                                expect_text=bool(row[5]))
            else:
                yield ObjectRef(row[0], row[1], "original", row[2], row[3])
        after = (rows[-1][0], rows[-1][1])


def iter_object_refs(engine: Engine, *, page_size: int = 2000) -> Iterator[ObjectRef]:
    """Every object any document references (PDF and original), in key order.

    Streamed in keyset pages (one short transaction each); a key several documents share
    comes once per document.
    """
    return heapq.merge(_role_refs(engine, "pdf", page_size=page_size),
                       _role_refs(engine, "original", page_size=page_size),
                       key=lambda ref: (ref.key, ref.document_id))


def listing_prefixes(taxonomy: Taxonomy) -> list[str]:
    """The archive prefixes in key order, without one that another already covers."""
    out: list[str] = []
    for prefix in sorted(set(archive_prefixes(taxonomy))):
        if not any(prefix.startswith(p) for p in out):
            out.append(prefix)
    return out


def _listing(store: ObjectStore, prefixes: Sequence[str]) -> Iterator[ObjectInfo]:
    for prefix in prefixes:
        yield from store.iter_objects(prefix)


def join_by_key(
    refs: Iterable[ObjectRef], listing: Iterable[ObjectInfo]
) -> Iterator[tuple[list[ObjectRef], ObjectInfo | None, ObjectInfo | None]]:
    """Merge references and listed objects, both in key order.

    Yields ``(refs, info, unmatched)``: references of one key with the listed object of that
    key (or None when it was not listed), or ``([], None, info)`` for a listed object no
    reference in the stream matched. If the two orders ever disagreed, a reference would only
    fall back to ``head`` and an unmatched object be looked up in the database: slower, never
    wrong.
    """
    listed = iter(listing)
    info = next(listed, None)
    for key, group in itertools.groupby(refs, key=lambda ref: ref.key):
        while info is not None and info.key < key:
            yield [], None, info
            info = next(listed, None)
        if info is not None and info.key == key:
            yield list(group), info, None
            info = next(listed, None)
        else:
            yield list(group), None, None
    while info is not None:
        yield [], None, info
        info = next(listed, None)


# --- the object pass ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stamp:
    """An object's verification stamp, as read back."""

    sha256: str
    verified_at: datetime
    pdf: PdfFacts | None


def _stamps(engine: Engine, keys: Sequence[str]) -> dict[str, _Stamp]:
    """The verification stamps of these keys (one query per 500)."""
    t = ObjectVerification.__table__  # type: ignore[attr-defined]
    out: dict[str, _Stamp] = {}
    with engine.connect() as conn:
        for batch in _batched(keys, 500):
            rows = conn.execute(
                sa.select(t.c.key, t.c.sha256, t.c.verified_at, t.c.pdf_pages, t.c.pdf_text)
                .where(t.c.key.in_(batch))
            )
            for key, sha, at, pages, text in rows:
                facts = PdfFacts(sha, pages, text) if pages is not None else None
                out[key] = _Stamp(sha, at, facts)
    return out


def _plan_reads(engine: Engine, refs: list[ObjectRef], options: CheckOptions) -> list[ObjectRef]:
    """Which objects to read (by mode), with the PDF facts of their last verification.

    Full runs read everything; incremental runs what was not verified since ``scrub_days``
    with the digest recorded now; metadata runs nothing.
    """
    if options.mode == Mode.METADATA:
        return [_planned(r, read=False, proven=None) for r in refs]
    full = options.mode == Mode.FULL
    wanted = [r.key for r in refs if not full or r.role == "pdf"]
    stamps = _stamps(engine, wanted) if wanted else {}
    since = options.now - timedelta(days=options.scrub_days)
    planned = []
    for ref in refs:
        stamp = stamps.get(ref.key)
        if stamp is None:
            planned.append(ref)
            continue
        fresh = stamp.sha256 == ref.sha256 and stamp.verified_at >= since
        planned.append(_planned(ref, read=full or not fresh, proven=stamp.pdf))
    return planned


def _planned(ref: ObjectRef, *, read: bool, proven: PdfFacts | None) -> ObjectRef:
    return ObjectRef(ref.key, ref.document_id, ref.role, ref.sha256, ref.size, ref.page_count,
                     ref.expect_text, read, proven)


def stamp_verified(engine: Engine, outcomes: Sequence[ObjectOutcome], *, at: datetime) -> None:
    """Remember that these objects passed every content check at ``at`` (upsert per key),
    with what pypdf found in their bytes (``PdfFacts``) when that is known."""
    rows = {}
    for o in outcomes:
        if not o.verified:
            continue
        pdf = o.pdf if o.pdf is not None and o.pdf.sha256 == o.ref.sha256 else None
        rows[o.ref.key] = {"key": o.ref.key, "sha256": o.ref.sha256, "size": o.hashed_bytes,
                           "verified_at": at, "pdf_pages": pdf.pages if pdf else None,
                           "pdf_text": pdf.text if pdf else None}
    if not rows:
        return
    table = ObjectVerification.__table__  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else (
            sqlite.insert)
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={name: stmt.excluded[name]
                  for name in ("sha256", "size", "verified_at", "pdf_pages", "pdf_text")},
        )
        session.execute(stmt, list(rows.values()))


@dataclass
class CheckReport:
    """The result of :func:`run_checks`."""

    mode: Mode
    started_at: datetime
    findings: Findings = field(default_factory=Findings)
    stats: Counter[str] = field(default_factory=Counter)
    finished_at: datetime | None = None


class _ObjectPass:
    """Checks referenced objects batch by batch, with at most ``limit`` reads in flight.

    An object the listing showed needs no store request unless its content is read; one it did
    not show is asked for with ``head`` (missing, unreadable, or written since the listing).
    A small one whose bytes are in memory is read right here (:func:`check_in_memory`); after
    a miss (bytes on disk, not cached: a cold archive), the next attempts wait for 1, 2, 4 ...
    up to ``MAX_MEMORY_BACKOFF`` objects, so a cold archive pays for almost no attempts.
    """

    def __init__(self, *, engine: Engine, store: ObjectStore, options: CheckOptions,
                 pool: ThreadPoolExecutor, report: CheckReport) -> None:
        self.engine, self.store, self.options = engine, store, options
        self.pool, self.report = pool, report
        self.limit = max(2, options.workers * 4)
        self.pending: deque[Future[ObjectOutcome]] = deque()
        self.done: list[ObjectOutcome] = []
        self.backoff = 0  # objects to hand to the pool before trying memory again
        self.skip = 0

    def check(self, pairs: list[tuple[ObjectRef, ObjectInfo | None]]) -> None:
        """Plan (which objects are due for a read) and check one batch."""
        planned = _plan_reads(self.engine, [ref for ref, _ in pairs], self.options)
        for ref, (_, info) in zip(planned, pairs, strict=True):
            if info is not None and (not ref.read_content or ref.size not in (None, info.size)):
                self._finish(self._check(ref, info))  # decided by the listing alone
                continue
            if info is not None and info.size <= self.options.inline_read_bytes:
                outcome = self._in_memory(ref, info)
                if outcome is not None:
                    self._finish(outcome)
                    continue
            self.pending.append(self.pool.submit(self._check, ref, info))
            while len(self.pending) > self.limit:
                self._finish(self.pending.popleft().result())

    def _in_memory(self, ref: ObjectRef, info: ObjectInfo) -> ObjectOutcome | None:
        if self.skip > 0:
            self.skip -= 1
            return None
        outcome = check_in_memory(self.store, ref, info=info, check_pdfs=self.options.check_pdf,
                                  deep=self.options.deep)
        if outcome is None:
            self.backoff = min(MAX_MEMORY_BACKOFF, max(1, 2 * self.backoff))
            self.skip = self.backoff
            return None
        self.backoff = 0
        self.report.stats["in_memory_reads"] += 1
        return outcome

    def _check(self, ref: ObjectRef, info: ObjectInfo | None) -> ObjectOutcome:
        return check_object(self.store, ref, check_pdfs=self.options.check_pdf,
                            deep=self.options.deep, spool_bytes=self.options.spool_bytes,
                            info=info)

    def _finish(self, outcome: ObjectOutcome) -> None:
        stats = self.report.stats
        self.report.findings.extend(outcome.findings)
        stats["objects"] += 1
        stats["hashed_objects"] += int(outcome.read)
        stats["hashed_bytes"] += outcome.hashed_bytes
        stats["opened_pdfs"] += int(outcome.pdf_opened)
        if outcome.verified:
            self.done.append(outcome)
        if len(self.done) >= self.options.page_size:
            self._stamp()

    def _stamp(self) -> None:
        if self.options.mode != Mode.METADATA and self.done:
            stamp_verified(self.engine, self.done, at=self.options.now)
        self.done = []

    def close(self) -> None:
        """Wait for the reads in flight and stamp what they verified."""
        while self.pending:
            self._finish(self.pending.popleft().result())
        self._stamp()


def check_objects(
    *, engine: Engine, store: ObjectStore, taxonomy: Taxonomy, options: CheckOptions,
    pool: ThreadPoolExecutor, report: CheckReport,
) -> None:
    """Every referenced object (present, size, content by mode) and every orphan, in one pass.

    The documents' references (sorted by key) are joined with one listing of the archive
    prefixes, so presence and size need no request per object and orphans no query per key.
    """
    objects = _ObjectPass(engine=engine, store=store, options=options, pool=pool, report=report)
    batch: list[tuple[ObjectRef, ObjectInfo | None]] = []
    unmatched: list[ObjectInfo] = []
    listed = _counted(_listing(store, listing_prefixes(taxonomy)), report.stats, "listed_objects")
    for refs, info, stray in join_by_key(iter_object_refs(engine, page_size=options.page_size),
                                         listed):
        if stray is not None:
            unmatched.append(stray)
            if len(unmatched) >= options.page_size:
                _report_orphans(engine, unmatched, report)
                unmatched = []
            continue
        batch.extend((ref, info) for ref in refs)
        if len(batch) >= options.page_size:
            objects.check(batch)
            batch = []
    if batch:
        objects.check(batch)
    _report_orphans(engine, unmatched, report)
    objects.close()


def _counted(items: Iterable[T], stats: Counter[str], name: str) -> Iterator[T]:
    for item in items:
        stats[name] += 1
        yield item


def _referenced_keys(engine: Engine, keys: Sequence[str]) -> set[str]:
    d = Document
    with Session(engine) as session:
        pdf = session.exec(select(d.pdf_key).where(col(d.pdf_key).in_(keys))).all()
        orig = session.exec(select(d.original_key).where(col(d.original_key).in_(keys))).all()
    return {k for k in (*pdf, *orig) if k}


def _report_orphans(engine: Engine, candidates: Sequence[ObjectInfo], report: CheckReport) -> None:
    """Listed objects the join matched to no reference: orphans, once the database agrees."""
    if not candidates:
        return
    referenced = _referenced_keys(engine, [o.key for o in candidates])
    for info in candidates:
        if info.key not in referenced:
            report.findings.add("orphan", f"对象没有任何记录引用: {info.key}",
                                object_key=info.key, size=info.size)


# --- the document pass --------------------------------------------------------------------------


def _shared_originals(engine: Engine, page: Sequence[DocRow]) -> frozenset[str]:
    keys = list({r.original_key for r in page if r.original_key})
    if not keys:
        return frozenset()
    d = Document
    query = (
        select(d.original_key).where(col(d.original_key).in_(keys))
        .group_by(d.original_key).having(func.count(col(d.id)) > 1)
    )
    with Session(engine) as session:
        return frozenset(k for k in session.exec(query).all() if k)


def check_documents(
    *, engine: Engine, taxonomy: Taxonomy, options: CheckOptions
) -> tuple[list[Finding], int]:
    """Every database-only check of every document, page by page; (findings, documents)."""
    findings: list[Finding] = []
    documents = 0
    for page in iter_document_pages(engine, page_size=options.page_size):
        shared = _shared_originals(engine, page)
        for row in page:
            findings.extend(check_document_row(
                row, taxonomy=taxonomy, options=options, shared_originals=shared))
        documents += len(page)
    return findings, documents


# --- archive-wide checks ----------------------------------------------------------------------


def archive_prefixes(taxonomy: Taxonomy) -> tuple[str, ...]:
    """The listing prefixes that hold documents' objects (``archive/``, ``originals/``)."""
    t = taxonomy.templates
    return tuple(p.strip("/") + "/" for p in (t.archive_prefix, t.originals_prefix))



def _duplicate_groups(session: Session) -> dict[frozenset[int], set[str]]:
    d = Document
    live = col(d.status) != "rejected"
    pdf_shas = session.exec(
        select(d.pdf_sha256).where(live, col(d.pdf_sha256).is_not(None))
        .group_by(d.pdf_sha256).having(func.count(col(d.id)) > 1)
    ).all()
    orig_shas = session.exec(
        select(d.original_sha256).where(live)
        .group_by(d.original_sha256).having(func.count(sa.distinct(d.original_key)) > 1)
    ).all()
    groups: dict[frozenset[int], set[str]] = {}
    for column, shas in ((d.pdf_sha256, pdf_shas), (d.original_sha256, orig_shas)):
        for sha in shas:
            ids = frozenset(session.exec(select(d.id).where(live, column == sha)).all())
            groups.setdefault(ids, set()).add(str(sha))  # type: ignore[arg-type]
    return groups


def check_duplicates(engine: Engine) -> list[Finding]:
    """Records holding the same bytes (PDF or original), across customers too.

    Documents cut from one bundle file share their original; that is not a duplicate.
    """
    with Session(engine) as session:
        groups = _duplicate_groups(session)
    out = []
    for ids, shas in sorted(groups.items(), key=lambda item: sorted(item[0])):
        ordered = sorted(ids)
        out.append(_finding(
            "duplicate_sha256", f"资料 {', '.join(map(str, ordered))} 的文件内容相同",
            document_id=ordered[0], subject="documents:" + ",".join(map(str, ordered)),
            detail={"document_ids": ordered, "sha256": sorted(shas)},
        ))
    return out


def check_set_invariants(engine: Engine) -> list[Finding]:
    """Rules over several rows: a superseded document has a successor; PDF keys are unique."""
    d = Document
    successor = sa.alias(Document.__table__, "successor")  # type: ignore[attr-defined]
    has_successor = sa.exists().where(successor.c.supersedes_id == d.id)
    out = []
    with Session(engine) as session:
        orphaned = session.exec(
            select(d.id).where(col(d.status) == "superseded", ~has_successor)
        ).all()
        shared = session.exec(
            select(d.pdf_key).where(col(d.pdf_key).is_not(None))
            .group_by(d.pdf_key).having(func.count(col(d.id)) > 1)
        ).all()
    for doc_id in orphaned:
        out.append(_finding("invariant_superseded_without_successor",
                            f"资料 {doc_id} 标记为已替换，但没有替换它的新版本",
                            document_id=doc_id))
    for key in shared:
        out.append(_finding("invariant_shared_key", f"多条记录指向同一个 PDF 对象: {key}",
                            object_key=key))
    return out


def _customer_pages(engine: Engine, page_size: int) -> Iterator[list[Any]]:
    after = 0
    c = Customer
    while True:
        with Session(engine) as session:
            rows = session.exec(
                select(c.id, c.code, c.customer_type).where(col(c.id) > after)
                .order_by(col(c.id)).limit(page_size)
            ).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1][0]


def _present_types(engine: Engine, customer_ids: Sequence[int]) -> set[tuple[int, str]]:
    d = Document
    with Session(engine) as session:
        rows = session.exec(
            select(d.customer_id, d.document_type).distinct()
            .where(col(d.customer_id).in_(customer_ids), col(d.status).in_(ACTIVE_STATUSES))
        ).all()
    return {(int(cid), str(t)) for cid, t in rows if cid is not None}


def check_checklists(
    *, engine: Engine, taxonomy: Taxonomy, report: CheckReport, page_size: int = 500
) -> None:
    """Customers missing a document their customer type requires (资料清单)."""
    for page in _customer_pages(engine, page_size):
        present = _present_types(engine, [row[0] for row in page])
        report.stats["customers"] += len(page)
        for cid, code, ctype in page:
            try:
                required = taxonomy.customer_type(ctype).required_documents
            except DossierError:
                continue
            for doc_type in required:
                if (cid, doc_type) in present:
                    continue
                label = taxonomy.document_type(doc_type).label
                report.findings.add(
                    "checklist_missing", f"客户 {code} 缺少{label}",
                    subject=f"customer:{code}:{doc_type}",
                    customer_id=cid, customer_code=code, document_type=doc_type,
                )


@dataclass(frozen=True)
class QuarantineItem:
    """A quarantined file as plain data (the flow lists the quarantine folder)."""

    name: str  # path relative to the quarantine folder
    reason: str
    quarantined_at: datetime
    problem: str | None = None


def check_quarantine(items: Iterable[QuarantineItem], *, options: CheckOptions) -> list[Finding]:
    """Quarantined files older than ``quarantine_stale_days`` that nobody has handled."""
    limit = timedelta(days=options.quarantine_stale_days)
    out = []
    for item in items:
        when = item.quarantined_at
        when = when if when.tzinfo else when.astimezone()
        age = options.now - when
        if age <= limit:
            continue
        out.append(_finding(
            "quarantine_stale", f"隔离文件 {item.name} 已 {age.days} 天未处理",
            subject=f"quarantine:{item.name}",
            detail={"name": item.name, "reason": item.reason, "days": age.days,
                    "problem": item.problem},
        ))
    return out


def run_checks(
    *,
    engine: Engine,
    store: ObjectStore,
    taxonomy: Taxonomy,
    options: CheckOptions,
    quarantine: Iterable[QuarantineItem] = (),
) -> CheckReport:
    """Run every check once and return the findings (nothing is written but verification stamps).

    The document pass (database only: key drift, review, expiry, row invariants) runs first,
    then the object pass (one listing joined with the references; content reads in a thread
    pool). Not side by side: on SQLite every transaction takes the write lock, and the two
    passes waited on each other.

    Args:
        engine: The database (read in short transactions, page by page).
        store: The object store.
        taxonomy: Naming templates, types and checklists.
        options: Mode, thresholds, concurrency, reference time.
        quarantine: Quarantined files (the flow lists them; archive does not import ingest).

    Returns:
        The report: findings and counters (documents, objects, hashed_objects, hashed_bytes,
        listed_objects, customers).
    """
    report = CheckReport(mode=options.mode, started_at=utcnow())
    findings, documents = check_documents(engine=engine, taxonomy=taxonomy, options=options)
    report.findings.extend(findings)
    report.stats["documents"] += documents
    with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="integrity") as pool:
        check_objects(engine=engine, store=store, taxonomy=taxonomy, options=options, pool=pool,
                      report=report)
    report.findings.extend(check_duplicates(engine))
    report.findings.extend(check_set_invariants(engine))
    check_checklists(engine=engine, taxonomy=taxonomy, report=report, page_size=options.page_size)
    report.findings.extend(check_quarantine(quarantine, options=options))
    report.finished_at = utcnow()
    log.info("integrity check (%s): %d findings, %s", options.mode, len(report.findings),
             dict(report.stats))
    return report


# --- recording runs ---------------------------------------------------------------------------


def _previous_open(session: Session) -> tuple[str | None, dict[str, IntegrityFinding]]:
    previous = session.exec(
        select(IntegrityRun).where(col(IntegrityRun.status) == RunStatus.SUCCEEDED.value)
        .order_by(col(IntegrityRun.started_at).desc()).limit(1)
    ).first()
    if previous is None:
        return None, {}
    rows = session.exec(
        select(IntegrityFinding).where(
            col(IntegrityFinding.run_id) == previous.id,
            col(IntegrityFinding.status) != FindingStatus.RESOLVED.value,
        )
    ).all()
    return previous.id, {row.fingerprint: row for row in rows}


def _row_of(run_id: str, f: Finding, status: FindingStatus) -> IntegrityFinding:
    detail = {**f.detail, "message": f.message}
    if f.subject:
        detail["subject"] = f.subject
    return IntegrityFinding(run_id=run_id, severity=str(f.severity), kind=f.kind,
                            document_id=f.document_id, object_key=f.object_key, detail=detail,
                            fingerprint=f.fingerprint, status=status.value)


def _copy_row(run_id: str, old: IntegrityFinding, status: FindingStatus, **extra: Any) -> (
        IntegrityFinding):
    return IntegrityFinding(run_id=run_id, severity=old.severity, kind=old.kind,
                            document_id=old.document_id, object_key=old.object_key,
                            detail={**(old.detail or {}), **extra}, fingerprint=old.fingerprint,
                            status=status.value)


def compare_with_previous(
    run_id: str, findings: Iterable[Finding], *, mode: Mode,
    previous: Mapping[str, IntegrityFinding], previous_run_id: str | None,
) -> list[IntegrityFinding]:
    """This run's finding rows: new or open, plus the previous run's resolved ones.

    A metadata run cannot see content problems; it carries the previous run's open ones over
    (still open) instead of calling them resolved.
    """
    rows: dict[str, IntegrityFinding] = {}
    for f in findings:
        if f.fingerprint not in rows:
            status = FindingStatus.OPEN if f.fingerprint in previous else FindingStatus.NEW
            rows[f.fingerprint] = _row_of(run_id, f, status)
    for fp, old in previous.items():
        if fp in rows:
            continue
        if mode == Mode.METADATA and old.kind in CONTENT_KINDS:
            rows[fp] = _copy_row(run_id, old, FindingStatus.OPEN, carried_over_from=previous_run_id)
        else:
            rows[fp] = _copy_row(run_id, old, FindingStatus.RESOLVED)
    return list(rows.values())


@dataclass(frozen=True)
class RepairAction:
    """One repair (``relink``, ``move_back`` or ``lost_found``) and whether it worked."""

    action: str
    object_key: str
    target_key: str | None
    document_id: int | None
    ok: bool
    message: str


def finding_record(row: IntegrityFinding) -> dict[str, Any]:
    """A stored finding as a JSON-ready dictionary (stable field names)."""
    detail = dict(row.detail or {})
    message = detail.pop("message", None)
    detail.pop("subject", None)
    return {
        "fingerprint": row.fingerprint,
        "kind": row.kind,
        "label": KINDS.get(row.kind, (None, row.kind))[1],
        "severity": row.severity,
        "status": row.status,
        "document_id": row.document_id,
        "object_key": row.object_key,
        "message": message,
        "detail": detail,
    }


def _counts(report: CheckReport, rows: Sequence[IntegrityFinding], repairs: int) -> dict[str, int]:
    live = [r for r in rows if r.status != FindingStatus.RESOLVED.value]
    by_sev = Counter(r.severity for r in live)
    by_status = Counter(r.status for r in rows)
    counts = {k: int(report.stats.get(k, 0)) for k in (
        "documents", "objects", "hashed_objects", "hashed_bytes", "opened_pdfs", "listed_objects",
        "customers")}
    counts.update({str(s): by_sev.get(str(s), 0) for s in Severity})
    counts.update({str(s): by_status.get(str(s), 0) for s in FindingStatus})
    counts["repairs"] = repairs
    return counts


def record_run(
    session: Session,
    *,
    report: CheckReport,
    repairs: Sequence[RepairAction] = (),
    actor: str = SYSTEM_ACTOR,
) -> dict[str, Any]:
    """Store a run and its findings compared with the previous run; return the summary.

    The caller commits. The summary (stable JSON field names): ``run_id``, ``mode``,
    ``started_at``, ``finished_at``, ``previous_run_id``, ``exit_code``, ``counts``,
    ``findings`` (see :func:`finding_record`, resolved ones included) and ``repairs``.
    """
    previous_id, previous = _previous_open(session)
    run = IntegrityRun(mode=str(report.mode), started_at=report.started_at,
                       finished_at=report.finished_at or utcnow(),
                       status=RunStatus.SUCCEEDED.value)
    session.add(run)
    session.flush()
    rows = compare_with_previous(run.id, report.findings, mode=report.mode, previous=previous,
                                 previous_run_id=previous_id)
    for batch in _batched(rows, 1000):
        session.add_all(batch)
        session.flush()
    run.counts = _counts(report, rows, sum(1 for r in repairs if r.ok))
    session.add(run)
    repo.add_audit_event(session, actor=actor, action="integrity_run.record",
                         entity_type="integrity_run", entity_id=run.id,
                         after={"mode": run.mode, "counts": run.counts})
    live = [r for r in rows if r.status != FindingStatus.RESOLVED.value]
    return {
        "run_id": run.id,
        "mode": run.mode,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "previous_run_id": previous_id,
        "exit_code": exit_code_for(r.severity for r in live),
        "counts": dict(run.counts),
        "findings": [finding_record(r) for r in _sorted_rows(rows)],
        "repairs": [repair_record(a) for a in repairs],
    }


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_STATUS_ORDER = {"new": 0, "open": 1, "resolved": 2}


def _sorted_rows(rows: Iterable[IntegrityFinding]) -> list[IntegrityFinding]:
    return sorted(rows, key=lambda r: (_STATUS_ORDER.get(r.status, 3),
                                       _SEVERITY_ORDER.get(r.severity, 3), r.kind,
                                       r.object_key or "", r.document_id or 0))


def repair_record(action: RepairAction) -> dict[str, Any]:
    """A repair action as a JSON-ready dictionary."""
    return {"action": action.action, "object_key": action.object_key,
            "target_key": action.target_key, "document_id": action.document_id,
            "ok": action.ok, "message": action.message}


# --- repair -----------------------------------------------------------------------------------


def _relink(
    *, engine: Engine, store: ObjectStore, orphan: Finding, missing: Finding, actor: str
) -> RepairAction:
    """Put an orphan whose bytes match a record's missing object where the record expects it."""
    target = str(missing.object_key)
    store.move(str(orphan.object_key), target)
    store.verify(target, expected_sha256=missing.detail.get("sha256"))
    with session_scope(engine) as session:
        repo.add_audit_event(
            session, actor=actor, action="integrity.relink", entity_type="document",
            entity_id=missing.document_id or "", before={"object_key": orphan.object_key},
            after={"object_key": target}, detail="孤立对象内容与缺失对象一致，已移回记录的位置",
        )
    return RepairAction("relink", str(orphan.object_key), target, missing.document_id, True,
                        f"已将孤立对象移回 {target}")


def _key_in_use(engine: Engine, key: str) -> bool:
    d = Document
    with Session(engine) as session:
        return session.exec(
            select(d.id).where((col(d.pdf_key) == key) | (col(d.original_key) == key))
        ).first() is not None


def _move_back(*, engine: Engine, store: ObjectStore, drift: Finding, actor: str) -> RepairAction:
    """Copy a drifted object to its computed key, verify, point the record there, delete it."""
    current = str(drift.object_key)
    sha = drift.detail.get("sha256")
    role = str(drift.detail.get("role"))

    def taken(key: str) -> bool:
        if key == current:
            return False
        if _key_in_use(engine, key):
            return True
        return store.exists(key) and store.head(key).sha256 != sha

    target = first_free_key(str(drift.detail["expected_key"]), taken=taken)
    store.copy(current, target)
    store.verify(target, expected_sha256=sha)
    column = "pdf_key" if role == "pdf" else "original_key"
    with session_scope(engine) as session:
        repo.update_document(session, document_id=int(drift.document_id or 0),
                             changes={column: target}, actor=actor,
                             action="integrity.move_back",
                             detail="对象已移回命名规则规定的位置")
    store.delete(current)
    return RepairAction("move_back", current, target, drift.document_id, True,
                        f"已移回 {target}")


def _to_lost_found(*, engine: Engine, store: ObjectStore, orphan: Finding, actor: str) -> (
        RepairAction):
    """Move an orphan nothing claims under ``lost+found/`` (never deleted)."""
    key = str(orphan.object_key)
    sha = store.sha256_of(key)
    target = first_free_key(f"{LOST_AND_FOUND_PREFIX}/{key}", taken=store.exists)
    store.move(key, target)
    with session_scope(engine) as session:
        repo.add_audit_event(
            session, actor=actor, action="integrity.lost_found", entity_type="object",
            entity_id=sha, before={"object_key": key}, after={"object_key": target},
            detail="无记录引用的对象已移入 lost+found",
        )
    return RepairAction("lost_found", key, target, None, True, f"已移入 {target}")


def _attempt(action: str, finding: Finding, fn: Callable[[], RepairAction]) -> RepairAction:
    try:
        return fn()
    except DossierError as e:
        log.warning("repair %s of %s failed: %s", action, finding.object_key, e)
        return RepairAction(action, str(finding.object_key), None, finding.document_id, False,
                            e.message)


def repair(
    *,
    engine: Engine,
    store: ObjectStore,
    findings: Iterable[Finding],
    actor: str = SYSTEM_ACTOR,
) -> list[RepairAction]:
    """Repair what can be repaired without destroying anything; every repair is audited.

    Order: orphans whose content matches a record's missing object are moved to that record's
    key; drifted objects are moved back to their computed key; remaining orphans go under
    ``lost+found/``. A failed repair is reported (``ok`` false) and the others continue.
    """
    items = list(findings)
    missing = {str(f.detail.get("sha256")): f for f in items
               if f.kind == "object_missing" and f.detail.get("sha256")}
    actions: list[RepairAction] = []
    leftover: list[Finding] = []
    for orphan in (f for f in items if f.kind == "orphan"):
        try:
            sha = store.sha256_of(str(orphan.object_key))
        except DossierError as e:
            actions.append(RepairAction("relink", str(orphan.object_key), None, None, False,
                                        e.message))
            continue
        match = missing.pop(sha, None)
        if match is None:
            leftover.append(orphan)
            continue
        actions.append(_attempt("relink", orphan, lambda o=orphan, m=match: _relink(
            engine=engine, store=store, orphan=o, missing=m, actor=actor)))
    for drift in (f for f in items if f.kind == "key_drift"):
        actions.append(_attempt("move_back", drift, lambda d=drift: _move_back(
            engine=engine, store=store, drift=d, actor=actor)))
    for orphan in leftover:
        actions.append(_attempt("lost_found", orphan, lambda o=orphan: _to_lost_found(
            engine=engine, store=store, orphan=o, actor=actor)))
    return actions
