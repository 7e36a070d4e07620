"""Checks of one object (store reads, run in worker threads): present, size, content hash, and a
PDF's structure (pypdf, or the facts an earlier verification proved for the same digest).
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from pypdf import PdfReader

from archive.errors import InvalidKeyError, ObjectNotFoundError, StorageError
from archive.integrity.findings import MIB, Finding, _finding
from archive.integrity.rows import ObjectRef, PdfFacts
from archive.storage.base import ObjectInfo, ObjectStore, copy_hashing, hash_stream
from config.errors import DossierError

#: Read buffer per worker thread (content is hashed in place, no copies).
READ_BUFFER_BYTES = MIB


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
    return _finding(
        kind,
        message,
        document_id=ref.document_id,
        object_key=ref.key,
        detail={"role": ref.role, **detail},
    )


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


def read_pdf_facts(stream: BinaryIO, ref: ObjectRef, *, sha256: str | None) -> PdfFacts | Finding:
    """Open a PDF with pypdf: its facts, or a ``pdf_unreadable`` finding.

    One pass over the pages: each page's content stream is resolved once (a damaged one makes
    the PDF unreadable) and, when the record expects a text layer and until a page showing
    text is found, searched for text operators.
    """
    try:
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            return _ref_finding(ref, "pdf_unreadable", f"PDF 已加密: {ref.key}", error="encrypted")
        pages = reader.pages
        count = len(pages)
        text = False
        for page in pages:
            contents = page.get_contents()
            text = text or (ref.expect_text and _shows_text(contents))
    except Exception as e:  # noqa: BLE001 - pypdf raises many types on damaged files
        return _ref_finding(
            ref, "pdf_unreadable", f"PDF 无法打开: {ref.key}", error=type(e).__name__
        )
    return PdfFacts(sha256, count, text if ref.expect_text else None)


def judge_pdf(ref: ObjectRef, facts: PdfFacts) -> list[Finding]:
    """The record against a PDF's facts: page count as recorded, text layer when OCR'd."""
    out = []
    if ref.page_count is not None and facts.pages != ref.page_count:
        out.append(
            _ref_finding(
                ref,
                "page_count_mismatch",
                f"PDF 有 {facts.pages} 页，记录为 {ref.page_count} 页: {ref.key}",
                expected=ref.page_count,
                actual=facts.pages,
            )
        )
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
    info = info if info is not None else _head(store, ref, outcome)
    if info is None:
        return outcome
    if ref.size is not None and info.size != ref.size:
        outcome.findings.append(
            _ref_finding(
                ref,
                "size_mismatch",
                f"对象大小与记录不符: {ref.key}",
                expected=ref.size,
                actual=info.size,
            )
        )
        return outcome
    if not ref.read_content:
        outcome.findings.extend(_metadata_checksum(ref, info))
        return outcome
    return _check_content(
        store,
        ref,
        outcome,
        check_pdfs=check_pdfs,
        deep=deep,
        spool_bytes=spool_bytes,
        size_hint=info.size,
    )


def _metadata_checksum(ref: ObjectRef, info: ObjectInfo) -> list[Finding]:
    """A checksum mismatch the store's metadata shows (no content read)."""
    if ref.sha256 and info.sha256 and info.sha256 != ref.sha256:
        return [
            _ref_finding(
                ref,
                "checksum_mismatch",
                f"对象校验和与记录不符: {ref.key}",
                expected=ref.sha256,
                actual=info.sha256,
                source="metadata",
            )
        ]
    return []


def _head(store: ObjectStore, ref: ObjectRef, outcome: ObjectOutcome) -> ObjectInfo | None:
    """Ask the store about an object the listing did not show; None (and a finding) if it
    is missing or unreadable."""
    try:
        return store.head(ref.key)
    except ObjectNotFoundError:
        outcome.findings.append(
            _ref_finding(
                ref, "object_missing", f"对象缺失: {ref.key}", sha256=ref.sha256, size=ref.size
            )
        )
    except (StorageError, InvalidKeyError) as e:
        outcome.findings.append(
            _ref_finding(ref, "object_unreadable", f"对象无法读取: {ref.key}", error=str(e.code))
        )
    return None


def _check_content(
    store: ObjectStore,
    ref: ObjectRef,
    outcome: ObjectOutcome,
    *,
    check_pdfs: bool,
    deep: bool,
    spool_bytes: int,
    size_hint: int,
) -> ObjectOutcome:
    pdf_checks = check_pdfs and ref.role == "pdf"
    open_pdf = pdf_checks and (deep or proven_facts(ref) is None)
    try:
        content = _read_content(
            store, ref, open_pdf=open_pdf, spool_bytes=spool_bytes, size_hint=size_hint
        )
    except ObjectNotFoundError:
        outcome.findings.append(
            _ref_finding(
                ref, "object_missing", f"对象缺失: {ref.key}", sha256=ref.sha256, size=ref.size
            )
        )
        return outcome
    except (StorageError, OSError) as e:
        code = str(e.code) if isinstance(e, DossierError) else type(e).__name__
        outcome.findings.append(
            _ref_finding(ref, "object_unreadable", f"对象无法读取: {ref.key}", error=code)
        )
        return outcome
    return _record_content(ref, outcome, content, pdf_checks=pdf_checks)


def _record_content(
    ref: ObjectRef, outcome: ObjectOutcome, content: _Content, *, pdf_checks: bool
) -> ObjectOutcome:
    outcome.hashed_bytes = content.size
    outcome.read = True
    outcome.pdf_opened = content.opened
    if ref.sha256 is not None and content.digest != ref.sha256:
        outcome.findings.append(
            _ref_finding(
                ref,
                "checksum_mismatch",
                f"对象内容与记录的校验和不符: {ref.key}",
                expected=ref.sha256,
                actual=content.digest,
                source="content",
            )
        )
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
    store: ObjectStore,
    ref: ObjectRef,
    *,
    info: ObjectInfo,
    check_pdfs: bool = True,
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
