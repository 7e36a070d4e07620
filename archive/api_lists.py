"""Lists the REST API pages through: visible rows, filtered in the database, by cursor.

A cursor is the last id of the previous page (rows come newest first, ``id`` descending), so a
page never repeats or skips a row when rows are added meanwhile. Visibility is
:mod:`archive.permissions`' SQL condition: a sales user's list holds only their customers and
their documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from archive.customer_query import CustomerFilter, customer_conditions, expiry_cutoff
from archive.permissions import visible_document_filter
from config.taxonomy import Taxonomy
from models.customer import Customer
from models.document import Document
from models.user import User

MAX_LIMIT = 200


@dataclass(frozen=True)
class DocumentFilter:
    """What a document list is narrowed to (None: any)."""

    status: str | None = None
    document_type: str | None = None
    customer_code: str | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None
    submitted_by: str | None = None


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))


def document_page(
    session: Session, user: User, where: DocumentFilter, *, after: int | None, limit: int
) -> tuple[list[tuple[Document, Customer | None]], int | None]:
    """One page of documents ``user`` may see, with their customers; and the next cursor."""
    query = (
        select(Document, Customer)
        .join(Customer, col(Customer.id) == col(Document.customer_id), isouter=True)
        .where(visible_document_filter(user))
    )
    if where.status:
        query = query.where(Document.status == where.status)
    if where.document_type:
        query = query.where(Document.document_type == where.document_type)
    if where.customer_code:
        query = query.where(Customer.code == where.customer_code)
    if where.submitted_from:
        query = query.where(col(Document.submitted_date) >= where.submitted_from)
    if where.submitted_to:
        query = query.where(col(Document.submitted_date) <= where.submitted_to)
    if where.submitted_by:
        query = query.where(Document.submitted_by == where.submitted_by)
    if after is not None:
        query = query.where(col(Document.id) < after)
    size = _limit(limit)
    rows = [
        (d, c) for d, c in session.exec(query.order_by(col(Document.id).desc()).limit(size + 1))
    ]
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1][0].id if more and rows else None)


def customer_page(
    session: Session,
    user: User,
    where: CustomerFilter,
    *,
    taxonomy: Taxonomy,
    after: int | None,
    limit: int,
    warning_days: int = 30,
) -> tuple[list[Customer], int | None]:
    """One page of customers ``user`` may see matching ``where`` (newest first), next cursor.

    The conditions are the customer list's own (:func:`archive.customer_query.customer_conditions`):
    the web list, the CLI, exports and the API filter customers the same way.
    """
    cutoff = expiry_cutoff(warning_days)
    conditions = customer_conditions(session, user, where, taxonomy=taxonomy, cutoff=cutoff)
    query = select(Customer).where(*conditions)
    if after is not None:
        query = query.where(col(Customer.id) < after)
    size = _limit(limit)
    rows = list(session.exec(query.order_by(col(Customer.id).desc()).limit(size + 1)).all())
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].id if more and rows else None)
