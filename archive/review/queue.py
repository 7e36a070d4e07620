"""The review queue (read model): what waits for a reviewer, filtered, counted and paged.

Three statements per page, all answered from the partial covering index ix_document_queue
(models.document) on PostgreSQL: the reason lists grouped by their JSON text (total and counts
per reason, summed here), the page's ids in queue order, then those rows with their customer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from archive.permissions import visible_document_filter
from config.taxonomy import Taxonomy, load_taxonomy
from models.customer import Customer
from models.db import utcnow
from models.document import Document, in_queue
from models.user import User


@dataclass(frozen=True)
class QueueItem:
    """One row of the review queue (no OCR text: the queue page must stay light)."""

    document_id: int
    document_type: str
    status: str
    submitted_date: date
    created_at: datetime
    original_filename: str
    page_count: int | None
    review_reasons: tuple[str, ...]
    is_anomaly: bool
    customer_code: str | None
    customer_name: str | None
    customer_type: str | None
    owner_id: int | None
    claimed_by: str | None
    claim_expires_at: datetime | None


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue, the total matching the filters, and counts per reason code.

    ``counts_by_reason`` counts documents per reason under every filter except ``reason``
    (so a reason tab can show its number while another is selected); zero counts are omitted.
    """

    items: list[QueueItem]
    total: int
    counts_by_reason: dict[str, int] = field(default_factory=dict)


def _reasons_text() -> sa.ColumnElement[str]:
    # JSON as text with spaces removed: '["second_check"]'. Reason codes are ASCII.
    return sa.func.replace(sa.cast(Document.review_reasons, sa.Text), " ", "")


def _has_reason(reason: str) -> sa.ColumnElement[bool]:
    return _reasons_text().contains(f'"{reason}"', autoescape=True)


def _queue_order() -> list[sa.ColumnElement[Any]]:
    return [col(Document.is_anomaly).desc(), col(Document.created_at), col(Document.id)]


@dataclass(frozen=True)
class _QueueFilter:
    """The WHERE clause of a queue view, and whether it needs the customer joined."""

    conditions: list[sa.ColumnElement[bool]]
    needs_customer: bool

    def select_from(self, statement: sa.Select[Any]) -> sa.Select[Any]:
        """``statement`` over document (joined with customer when needed), filtered."""
        statement = statement.select_from(Document)
        if self.needs_customer:
            statement = statement.outerjoin(Customer, col(Document.customer_id) == col(Customer.id))
        return statement.where(*self.conditions)


def _queue_filter(
    *,
    user: User,
    document_type: str | None,
    customer_type: str | None,
    owner: str | None,
) -> _QueueFilter:
    conditions = [in_queue(), visible_document_filter(user)]
    if document_type:
        conditions.append(col(Document.document_type) == document_type)
    if customer_type:
        conditions.append(col(Customer.customer_type) == customer_type)
    if owner:
        owner_ids = select(User.id).where(User.username == owner).scalar_subquery()
        conditions.append(col(Customer.owner_id) == owner_ids)
    return _QueueFilter(conditions, needs_customer=bool(customer_type or owner))


def _queue_item(row: Any) -> QueueItem:
    return QueueItem(
        document_id=row.id,
        document_type=row.document_type,
        status=row.status,
        submitted_date=row.submitted_date,
        created_at=row.created_at,
        original_filename=row.original_filename,
        page_count=row.page_count,
        review_reasons=tuple(row.review_reasons or ()),
        is_anomaly=bool(row.is_anomaly),
        customer_code=row.customer_code,
        customer_name=row.customer_name,
        customer_type=row.customer_type,
        owner_id=row.owner_id,
        claimed_by=row.claimed_by,
        claim_expires_at=row.claim_expires_at,
    )


def _parse_reasons(raw: str | None) -> list[str]:
    reasons = json.loads(raw) if raw else []
    return [r for r in reasons if isinstance(r, str)] if isinstance(reasons, list) else []


def _reason_lists(session: Session, where: _QueueFilter) -> list[tuple[list[str], int]]:
    """Each distinct reason list under ``where`` with how many documents carry it.

    One scan, grouped by the list's JSON text: there are few distinct lists (combinations of
    a handful of codes), so this is far cheaper than expanding every row's JSON in SQL.
    """
    text = sa.cast(Document.review_reasons, sa.Text)
    statement = where.select_from(sa.select(text, sa.func.count())).group_by(text)
    return [(_parse_reasons(raw), int(n)) for raw, n in session.execute(statement).all()]


def _count_reasons(lists: Sequence[tuple[list[str], int]], codes: Sequence[str]) -> dict[str, int]:
    """Documents per reason code in ``codes`` (zero counts omitted), in ``codes`` order."""
    counts = dict.fromkeys(codes, 0)
    for reasons, n in lists:
        for code in set(reasons):
            if code in counts:
                counts[code] += n
    return {code: n for code, n in counts.items() if n}


def _page_rows(
    session: Session, where: _QueueFilter, *, reason: str | None, limit: int, offset: int
) -> list[QueueItem]:
    """The page: ids in queue order first (from the index), then only those rows in full."""
    ids = where.select_from(sa.select(Document.id))
    if reason:
        ids = ids.where(_has_reason(reason))
    ids = ids.order_by(*_queue_order()).limit(limit).offset(offset)
    statement = (
        sa.select(
            Document.id,
            Document.document_type,
            Document.status,
            Document.submitted_date,
            Document.created_at,
            Document.original_filename,
            Document.page_count,
            Document.review_reasons,
            Document.claimed_by,
            Document.claim_expires_at,
            Document.is_anomaly,
            col(Customer.code).label("customer_code"),
            col(Customer.name).label("customer_name"),
            Customer.customer_type,
            Customer.owner_id,
        )
        .select_from(Document)
        .outerjoin(Customer, col(Document.customer_id) == col(Customer.id))
        .where(col(Document.id).in_(ids.scalar_subquery()))
        .order_by(*_queue_order())
    )
    return [_queue_item(row) for row in session.execute(statement).all()]


def review_queue(
    session: Session,
    *,
    user: User,
    reason: str | None = None,
    document_type: str | None = None,
    customer_type: str | None = None,
    owner: str | None = None,
    limit: int = 50,
    offset: int = 0,
    taxonomy: Taxonomy | None = None,
) -> QueuePage:
    """Documents waiting for review (待审核 and 更新中) that ``user`` may see.

    Order: anomalies first (a document with any reason other than the soft ``second_check``,
    stored as ``Document.is_anomaly``), then oldest first (``created_at``, then id).

    Args:
        session: Open session (read only).
        user: Whose view (sales see only their customers' documents).
        reason: Only documents carrying this reason code.
        document_type: Only this document type code.
        customer_type: Only documents linked to a customer of this type.
        owner: Only documents of customers owned by this username.
        limit: Page size.
        offset: Rows skipped (pagination).
        taxonomy: Where the reason codes to count come from (default taxonomy when None).

    Returns:
        A :class:`QueuePage`.
    """
    where = _queue_filter(
        user=user, document_type=document_type, customer_type=customer_type, owner=owner
    )
    lists = _reason_lists(session, where)
    if reason:
        total = sum(n for reasons, n in lists if reason in reasons)
    else:
        total = sum(n for _, n in lists)
    items = _page_rows(session, where, reason=reason, limit=limit, offset=offset)
    codes = list((taxonomy or load_taxonomy()).review_reasons)
    return QueuePage(items=items, total=total, counts_by_reason=_count_reasons(lists, codes))


def _workable(user: User, now: datetime) -> sa.ColumnElement[bool]:
    """Not held by a live claim of somebody else."""
    return sa.or_(
        col(Document.claimed_by).is_(None),
        col(Document.claimed_by) == user.username,
        col(Document.claim_expires_at).is_(None),
        col(Document.claim_expires_at) <= now,
    )


def next_in_queue(
    session: Session,
    *,
    user: User,
    exclude: Sequence[int] = (),
    now: datetime | None = None,
    reason: str | None = None,
    document_type: str | None = None,
    customer_type: str | None = None,
    owner: str | None = None,
) -> int | None:
    """Id of the first queue document ``user`` can work on (not claimed live by someone else).

    Args:
        session: Open session (read only).
        user: The reviewer.
        exclude: Document ids to skip (e.g. the one just decided).
        now: The current time.
        reason: Filters as for :func:`review_queue`.
        document_type: Filters as for :func:`review_queue`.
        customer_type: Filters as for :func:`review_queue`.
        owner: Filters as for :func:`review_queue`.
    """
    where = _queue_filter(
        user=user, document_type=document_type, customer_type=customer_type, owner=owner
    )
    statement = where.select_from(sa.select(Document.id)).where(_workable(user, now or utcnow()))
    if reason:
        statement = statement.where(_has_reason(reason))
    if exclude:
        statement = statement.where(col(Document.id).not_in(list(exclude)))
    return session.execute(statement.order_by(*_queue_order()).limit(1)).scalar_one_or_none()


__all__ = ["QueueItem", "QueuePage", "next_in_queue", "review_queue"]
