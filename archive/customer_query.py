"""The customer list: the viewer's customers filtered by fields and a tag combination.

One function both the CLI and the web call. Sales users see only their own customers (the
filter is SQL, so counts and pages agree); tags combine with AND (制造业 + 高价值).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from archive.permissions import visible_customer_filter
from archive.tags import tag_filter
from models.customer import Customer, normalize_customer_name
from models.errors import ValidationError
from models.user import User

#: Columns a list may be sorted by (``-`` in front: descending).
SORTABLE = ("code", "name", "status", "level", "updated_at", "cumulative_amount", "value_tier")


@dataclass(frozen=True)
class CustomerFilter:
    """What to show: every field is optional; ``tags`` must all be present."""

    tags: Sequence[str] = ()
    status: str | None = None
    customer_type: str | None = None
    industry: str | None = None
    level: str | None = None
    value_tier: str | None = None
    region: str | None = None
    owner_id: int | None = None
    text: str | None = None  # name (normalized), code, USCC or contact person contains


def _conditions(session: Session, actor: User, f: CustomerFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [visible_customer_filter(actor)]
    for name in ("status", "customer_type", "industry", "level", "value_tier", "region"):
        value = getattr(f, name)
        if value is not None:
            conditions.append(getattr(Customer, name) == value)
    if f.owner_id is not None:
        conditions.append(col(Customer.owner_id) == f.owner_id)
    if f.tags:
        conditions.append(tag_filter(session, f.tags))
    if f.text and f.text.strip():
        text = f.text.strip()
        conditions.append(
            sa.or_(
                col(Customer.name_key).contains(normalize_customer_name(text)),
                col(Customer.code).contains(text.upper()),
                col(Customer.uscc).contains(text.upper()),
                col(Customer.contact_person).contains(text),
            )
        )
    return conditions


def list_customers(
    session: Session,
    actor: User,
    filters: CustomerFilter | None = None,
    *,
    sort: str = "code",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Customer], int]:
    """One page of the customers ``actor`` may see that match ``filters``, and the total count.

    Raises:
        ValidationError: ``sort`` is not one of :data:`SORTABLE` (optionally with a leading ``-``).
    """
    conditions = _conditions(session, actor, filters or CustomerFilter())
    key = sort.removeprefix("-")
    if key not in SORTABLE:
        allowed = "、".join(SORTABLE)
        raise ValidationError(
            f"排序：不支持“{sort}”，可选：{allowed}", field="sort", reason="option_unknown"
        )
    column = col(getattr(Customer, key))
    order = column.desc() if sort.startswith("-") else column.asc()
    query = (
        select(Customer)
        .where(*conditions)
        .order_by(order, col(Customer.id))
        .offset(offset)
        .limit(limit)
    )
    total = session.exec(select(func.count()).select_from(Customer).where(*conditions)).one()
    return list(session.exec(query).all()), int(total)
