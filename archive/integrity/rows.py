"""What the checks read from the database, streamed in keyset pages (one short transaction per
page, so SQLite's write lock is never held for long): documents (:class:`DocRow`), the objects
they reference in key order (:class:`ObjectRef`) and objects' verification stamps.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from models.customer import Customer
from models.document import Document
from models.runs import ObjectVerification

T = TypeVar("T")


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
            d.id,
            d.customer_id,
            Customer.code,
            Customer.name,
            Customer.customer_type,
            d.document_type,
            d.status,
            d.submitted_date,
            d.original_filename,
            d.original_key,
            d.original_sha256,
            d.original_size,
            d.pdf_key,
            d.pdf_sha256,
            d.pdf_size,
            d.page_count,
            has_text.label("has_text"),
            d.fields,
            d.created_at,
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
            rows = conn.execute(
                _ref_query(role, after=after, limit=page_size, dialect=engine.dialect.name)
            ).all()
        if not rows:
            return
        for row in rows:
            if role == "pdf":
                yield ObjectRef(
                    row[0],
                    row[1],
                    "pdf",
                    row[2],
                    row[3],
                    page_count=row[4],
                    expect_text=bool(row[5]),
                )
            else:
                yield ObjectRef(row[0], row[1], "original", row[2], row[3])
        after = (rows[-1][0], rows[-1][1])


def iter_object_refs(engine: Engine, *, page_size: int = 2000) -> Iterator[ObjectRef]:
    """Every object any document references (PDF and original), in key order.

    Streamed in keyset pages (one short transaction each); a key several documents share
    comes once per document.
    """
    return heapq.merge(
        _role_refs(engine, "pdf", page_size=page_size),
        _role_refs(engine, "original", page_size=page_size),
        key=lambda ref: (ref.key, ref.document_id),
    )


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
                sa.select(t.c.key, t.c.sha256, t.c.verified_at, t.c.pdf_pages, t.c.pdf_text).where(
                    t.c.key.in_(batch)
                )
            )
            for key, sha, at, pages, text in rows:
                facts = PdfFacts(sha, pages, text) if pages is not None else None
                out[key] = _Stamp(sha, at, facts)
    return out
