"""Per-document checks (database only): key drift, review waiting too long, expiry, row
invariants; and the document pass that runs them over every document, page by page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from archive.integrity.findings import CheckOptions, Finding, _finding
from archive.integrity.keys import expected_keys, matches_expected_key
from archive.integrity.rows import DocRow, iter_document_pages
from archive.linking import field_value
from archive.naming import MAX_KEY_BYTES
from config.errors import DossierError
from config.taxonomy import Taxonomy
from models.document import Document

log = logging.getLogger(__name__)

#: Statuses of documents that are in effect or on their way (checked for expiry, checklists).
ACTIVE_STATUSES = ("pending_review", "archived", "updating")
#: Field holding the end of validity, per document type (see config/understanding.toml).
EXPIRY_FIELDS = {"business_license": "term_end", "id_card": "valid_to", "contract": "expiry_date"}
#: Words meaning "never expires" (as in ingest.fields.LONG_TERM_WORDS; archive cannot import it).
LONG_TERM_WORDS = ("长期", "永久", "无固定期限", "不约定期限")


def check_key_drift(
    row: DocRow,
    *,
    taxonomy: Taxonomy,
    shared_originals: frozenset[str] = frozenset(),
    max_key_bytes: int = MAX_KEY_BYTES,
) -> list[Finding]:
    """A key that is not where the naming rules put the document now (e.g. after a rename).

    An original shared by several documents (one bundle file) is named after the first part
    only, so it is not judged here. ``max_key_bytes`` is the store's key limit, as filing and
    review use it.
    """
    try:
        pdf_expected, original_expected = expected_keys(row, taxonomy, max_key_bytes=max_key_bytes)
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
        out.append(
            _finding(
                "key_drift",
                f"资料 {row.id} 的对象不在命名规则规定的位置，应为 {wanted}",
                document_id=row.id,
                object_key=actual,
                detail={"role": role, "expected_key": wanted, "sha256": sha},
            )
        )
    return out


def check_review_stale(row: DocRow, *, options: CheckOptions) -> list[Finding]:
    """A document waiting in review longer than ``review_stale_days``."""
    if row.status != "pending_review":
        return []
    age = options.now - row.created_at
    if age <= timedelta(days=options.review_stale_days):
        return []
    days = age.days
    return [
        _finding(
            "review_stale",
            f"资料 {row.id} 已待审核 {days} 天",
            document_id=row.id,
            detail={"days_waiting": days, "limit_days": options.review_stale_days},
        )
    ]


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
        return [
            _finding(
                "expired",
                f"资料 {row.id} 已于 {end.isoformat()} 过期",
                document_id=row.id,
                detail=detail,
            )
        ]
    if end <= today + timedelta(days=options.expiry_warning_days):
        return [
            _finding(
                "expiring",
                f"资料 {row.id} 将于 {end.isoformat()} 过期",
                document_id=row.id,
                detail=detail,
            )
        ]
    return []


def check_row_invariants(row: DocRow) -> list[Finding]:
    """Rules a single row must keep: archived means linked; a live document has objects."""
    out = []
    if row.status == "archived" and row.customer_id is None:
        out.append(
            _finding(
                "invariant_archived_without_customer",
                f"资料 {row.id} 已归档但未关联客户",
                document_id=row.id,
            )
        )
    if row.status != "rejected" and (row.pdf_key is None or row.original_key is None):
        out.append(
            _finding(
                "invariant_no_object",
                f"资料 {row.id} 的记录缺少对象键",
                document_id=row.id,
                detail={"pdf_key": row.pdf_key, "original_key": row.original_key},
            )
        )
    return out


def check_document_row(
    row: DocRow,
    *,
    taxonomy: Taxonomy,
    options: CheckOptions,
    shared_originals: frozenset[str] = frozenset(),
    max_key_bytes: int = MAX_KEY_BYTES,
) -> list[Finding]:
    """Every database-only check of one document."""
    return [
        *check_key_drift(
            row, taxonomy=taxonomy, shared_originals=shared_originals, max_key_bytes=max_key_bytes
        ),
        *check_review_stale(row, options=options),
        *check_expiry(row, options=options),
        *check_row_invariants(row),
    ]


# --- object checks (store reads, run in worker threads) ---------------------------------------


def _shared_originals(engine: Engine, page: Sequence[DocRow]) -> frozenset[str]:
    keys = list({r.original_key for r in page if r.original_key})
    if not keys:
        return frozenset()
    d = Document
    query = (
        select(d.original_key)
        .where(col(d.original_key).in_(keys))
        .group_by(d.original_key)
        .having(func.count(col(d.id)) > 1)
    )
    with Session(engine) as session:
        return frozenset(k for k in session.exec(query).all() if k)


def check_documents(
    *,
    engine: Engine,
    taxonomy: Taxonomy,
    options: CheckOptions,
    max_key_bytes: int = MAX_KEY_BYTES,
) -> tuple[list[Finding], int]:
    """Every database-only check of every document, page by page; (findings, documents).

    ``max_key_bytes``: the store's key limit (``ObjectStore.max_key_bytes``).
    """
    findings: list[Finding] = []
    documents = 0
    for page in iter_document_pages(engine, page_size=options.page_size):
        shared = _shared_originals(engine, page)
        for row in page:
            findings.extend(
                check_document_row(
                    row,
                    taxonomy=taxonomy,
                    options=options,
                    shared_originals=shared,
                    max_key_bytes=max_key_bytes,
                )
            )
        documents += len(page)
    return findings, documents
