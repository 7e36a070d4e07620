"""Full-text search over documents' OCR text, extracted field values and original file names.

One function, two databases (the index is built by migration 0002 and kept in sync by the
database itself, so every writer - filing, review, scripts - is covered):

- SQLite: an FTS5 table ``document_fts`` (trigram tokenizer) filled by triggers on
  ``document``. Queries of 3+ characters use ``MATCH`` (substring search, Chinese included);
  1-2 character queries use ``LIKE`` on the same table (a scan, still correct).
- PostgreSQL: a GIN ``gin_trgm_ops`` expression index (extension ``pg_trgm``) on
  ``dossier_search_text(ocr_text, fields, original_filename)``; queries use ``ILIKE``, which the
  index serves for 3+ characters.

Results respect visibility (:func:`archive.permissions.visible_document_filter`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from archive.linking import field_value
from archive.permissions import visible_document_filter
from models.customer import Customer
from models.document import Document
from models.user import User

SNIPPET_CONTEXT = 30
MAX_QUERY_LENGTH = 200
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SearchHit:
    """One matching document, with a short excerpt around the first match."""

    document_id: int
    document_type: str
    status: str
    submitted_date: date
    created_at: datetime
    customer_code: str | None
    customer_name: str | None
    original_filename: str
    snippet: str


def normalize_query(query: str) -> str:
    """NFKC (full-width to half-width), whitespace collapsed, stripped, at most 200 characters."""
    text = unicodedata.normalize("NFKC", query or "")
    return _SPACES.sub(" ", text).strip()[:MAX_QUERY_LENGTH]


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _sqlite_condition(query: str) -> sa.ColumnElement[bool]:
    if len(query) >= 3:
        phrase = '"' + query.replace('"', '""') + '"'
        matched = sa.text("SELECT rowid FROM document_fts WHERE document_fts MATCH :q").bindparams(
            q=phrase
        )
    else:
        matched = sa.text(
            "SELECT rowid FROM document_fts WHERE body LIKE :q ESCAPE '\\'"
        ).bindparams(q=_like_pattern(query))
    return col(Document.id).in_(matched.columns(sa.column("rowid", sa.Integer)))


def _postgresql_condition(query: str) -> sa.ColumnElement[bool]:
    body = sa.func.dossier_search_text(
        Document.ocr_text, Document.fields, Document.original_filename
    )
    return body.ilike(_like_pattern(query), escape="\\")


def _fields_text(fields: dict[str, Any]) -> str:
    values = (field_value(fields, k) for k in fields if not k.startswith("_"))
    return " ".join(v for v in values if v)


def make_snippet(text: str, query: str, *, context: int = SNIPPET_CONTEXT) -> str:
    """An excerpt of ``text`` around the first case-insensitive match of ``query``."""
    flat = _SPACES.sub(" ", unicodedata.normalize("NFKC", text or "")).strip()
    at = flat.lower().find(query.lower())
    if at < 0:
        return flat[: 2 * context]
    start, end = max(0, at - context), min(len(flat), at + len(query) + context)
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")


def _hit(document: Document, customer: Customer | None, query: str) -> SearchHit:
    haystack = " ".join(
        [document.ocr_text or "", _fields_text(document.fields or {}), document.original_filename]
    )
    return SearchHit(
        document_id=document.id or 0,
        document_type=document.document_type,
        status=document.status,
        submitted_date=document.submitted_date,
        created_at=document.created_at,
        customer_code=customer.code if customer else None,
        customer_name=customer.name if customer else None,
        original_filename=document.original_filename,
        snippet=make_snippet(haystack, query),
    )


def search_documents(
    session: Session, *, query: str, user: User, limit: int = 50
) -> list[SearchHit]:
    """Documents whose OCR text, field values or original file name contain ``query``.

    Substring search, case-insensitive for Latin letters; Chinese works from one character
    (1-2 characters are answered by a scan, 3+ by the trigram index). Newest documents first.

    Args:
        session: Open session (read only).
        query: What the user typed (normalized with :func:`normalize_query`); empty -> no hits.
        user: The searching user; only documents they may see are returned.
        limit: Most hits returned.

    Returns:
        Hits, newest document first.
    """
    text = normalize_query(query)
    if not text:
        return []
    dialect = session.get_bind().dialect.name
    condition = _postgresql_condition(text) if dialect == "postgresql" else _sqlite_condition(text)
    statement = (
        select(Document, Customer)
        .join(Customer, col(Document.customer_id) == col(Customer.id), isouter=True)
        .where(condition, visible_document_filter(user))
        .order_by(col(Document.id).desc())
        .limit(limit)
    )
    return [_hit(doc, cust, text) for doc, cust in session.exec(statement).all()]


__all__ = ["SearchHit", "make_snippet", "normalize_query", "search_documents"]
