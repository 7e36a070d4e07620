"""The customer list (客户列表): the one query behind the web list and ``dossier customers list``.

:func:`list_customers` returns one page of the customers the viewer may see
(:func:`archive.permissions.visible_customer_filter`: sales users only their own) that match a
:class:`CustomerFilter`, and their total. Every filter is a SQL condition, so the total and the
page come from the database:

- fields: status, customer type, industry, level, value tier (the stored ``value_tier`` that
  :mod:`archive.tiers` derives), region, owner;
- tags: every one of the named tags (制造业 + 高价值, :func:`archive.tags.tag_filter`);
- documents: complete (every document the customer type requires is in effect), or having an
  expired or expiring document (the integrity check's expiry fields);
- text: name (normalized), code, USCC, contact person, phone or a contact's name contains it
  (a one- or two-character Chinese term through the search grams of migration 0018).

Sort keys are :data:`SORTABLE` (``-`` in front: descending). What a row shows beside the record
(documents present, expiring) is :func:`archive.customer_documents.document_summaries`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from archive.integrity import ACTIVE_STATUSES, EXPIRY_FIELDS, CheckOptions
from archive.permissions import visible_customer_filter
from archive.tags import tag_filter
from config.taxonomy import Taxonomy, load_taxonomy
from models.contact import Contact
from models.customer import Customer, normalize_customer_name
from models.db import utcnow
from models.document import Document
from models.errors import ValidationError
from models.search_gram import CustomerGram, lookup_grams
from models.user import User

#: Sort keys (``-`` in front: descending) and their columns.
SORTABLE: dict[str, Any] = {
    "code": Customer.code,
    "name": Customer.name_key,
    "status": Customer.status,
    "level": Customer.level,
    "updated_at": Customer.updated_at,
    "cumulative_amount": Customer.cumulative_amount,
    "value_tier": Customer.value_tier,
}
#: ISO dates only (``2026-12-31``, maybe followed by more text); ``长期`` never matches.
_ISO_DATE_LIKE = "____-__-__%"
_EQUAL_FIELDS = ("status", "customer_type", "industry", "level", "value_tier", "region", "owner_id")


@dataclass(frozen=True)
class CustomerFilter:
    """What to show; ``None`` means "any". ``tags`` must all be present; ``complete``: every
    required document in effect (False: some missing); ``expiring``: an expired or expiring
    document."""

    tags: Sequence[str] = ()
    status: str | None = None
    customer_type: str | None = None
    industry: str | None = None
    level: str | None = None
    value_tier: str | None = None
    region: str | None = None
    owner_id: int | None = None
    text: str | None = None
    complete: bool | None = None
    expiring: bool = False


# --- SQL conditions ---------------------------------------------------------------------------


def _active_document_of(doc_type: str) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        col(Document.customer_id) == col(Customer.id),
        col(Document.document_type) == doc_type,
        col(Document.status).in_(ACTIVE_STATUSES),
    )


def complete_condition(taxonomy: Taxonomy) -> sa.ColumnElement[bool]:
    """Customers with every document their customer type requires (in an active status)."""
    clauses = [
        sa.and_(
            col(Customer.customer_type) == ct.code,
            *(_active_document_of(t) for t in ct.required_documents),
        )
        for ct in taxonomy.customer_types
    ]
    return sa.or_(*clauses) if clauses else sa.false()


def _end_value(name: str) -> Any:
    """A field's value in ``document.fields``, stored as ``{"value": ...}`` or plain."""
    fields = col(Document.fields)
    return func.coalesce(fields[(name, "value")].as_string(), fields[name].as_string())


def expiring_condition(cutoff: date) -> sa.ColumnElement[bool]:
    """Customers with an active document whose validity ends on or before ``cutoff``."""
    by_type = []
    for doc_type, name in EXPIRY_FIELDS.items():
        end = _end_value(name)
        by_type.append(
            sa.and_(
                col(Document.document_type) == doc_type,
                end.like(_ISO_DATE_LIKE),
                func.substr(end, 1, 10) <= cutoff.isoformat(),
            )
        )
    return sa.exists().where(
        col(Document.customer_id) == col(Customer.id),
        col(Document.status).in_(ACTIVE_STATUSES),
        sa.or_(*by_type),
    )


def like_condition(text: str) -> sa.ColumnElement[bool]:
    """Name (normalized), code, USCC, contact person, phone or a contact's name contains it:
    the plain substring match (``LIKE '%…%'``) that every search means.

    Shaped for the indexes of migration 0016: the customer's own columns in one ``OR`` (on
    PostgreSQL a union of trigram index look-ups, or one scan for a term under three
    characters), a contact's name in a second set, the two joined by ``IN (… UNION …)``.
    """
    key = normalize_customer_name(text)
    own = select(col(Customer.id)).where(_own_match(text, key))
    by_contact = select(col(Contact.customer_id)).where(
        col(Contact.name).contains(text, autoescape=True)
    )
    return col(Customer.id).in_(sa.union(own, by_contact))


def _own_match(text: str, key: str) -> sa.ColumnElement[bool]:
    return sa.or_(
        col(Customer.name_key).contains(key, autoescape=True),
        col(Customer.code).contains(text.upper(), autoescape=True),
        col(Customer.uscc).contains(key.upper(), autoescape=True),
        col(Customer.contact_person).contains(text, autoescape=True),
        col(Customer.phone).contains(key, autoescape=True),
    )


def text_condition(text: str) -> sa.ColumnElement[bool]:
    """The search: the same customers as :func:`like_condition`.

    A term of one or two characters with a Chinese (non-ASCII) character has no trigram: its
    candidates come from ``customer_gram`` (:func:`models.search_gram.lookup_grams`, migration
    0018: a superset of the matches, found by index), and the plain match is checked on them
    only. Any other term is :func:`like_condition`.
    """
    key = normalize_customer_name(text)
    grams = lookup_grams(text, key)
    if grams is None:
        return like_condition(text)
    candidates = select(col(CustomerGram.customer_id)).where(col(CustomerGram.gram).in_(grams))
    by_contact = sa.exists().where(
        col(Contact.customer_id) == col(Customer.id),
        col(Contact.name).contains(text, autoescape=True),
    )
    return sa.and_(col(Customer.id).in_(candidates), sa.or_(_own_match(text, key), by_contact))


def customer_conditions(
    session: Session, actor: User, f: CustomerFilter, *, taxonomy: Taxonomy, cutoff: date
) -> list[sa.ColumnElement[bool]]:
    """The SQL conditions on ``Customer`` of ``f`` within what ``actor`` may see (for any
    list of customers, e.g. a cursor-paged one); ``cutoff``: the last day counted as expiring."""
    out: list[sa.ColumnElement[bool]] = [visible_customer_filter(actor)]
    for name in _EQUAL_FIELDS:
        value = getattr(f, name)
        if value is not None:
            out.append(col(getattr(Customer, name)) == value)
    if f.tags:
        out.append(tag_filter(session, f.tags))
    if f.complete is not None:
        complete = complete_condition(taxonomy)
        out.append(complete if f.complete else sa.not_(complete))
    if f.expiring:
        out.append(expiring_condition(cutoff))
    if f.text and f.text.strip():
        out.append(text_condition(f.text.strip()))
    return out


def _order(sort: str) -> list[Any]:
    key = sort.removeprefix("-")
    if key not in SORTABLE:
        allowed = "、".join(SORTABLE)
        raise ValidationError(
            f"排序：不支持“{sort}”，可选：{allowed}", field="sort", reason="option_unknown"
        )
    column = col(SORTABLE[key])
    descending = sort.startswith("-")
    first = column.desc() if descending else column.asc()
    tie = col(Customer.id).desc() if descending else col(Customer.id).asc()
    # NULLS LAST only where a value may be missing: on a NOT NULL column it would stop
    # PostgreSQL from reading the (column, id) index backwards for a descending sort.
    return [first.nulls_last() if column.nullable else first, tie]


# --- the list ---------------------------------------------------------------------------------


def expiry_cutoff(warning_days: int, now: datetime | None = None) -> date:
    """The last day a validity end counts as expiring (the China day of ``now`` + the window)."""
    return CheckOptions(now=now or utcnow()).today + timedelta(days=warning_days)


def list_customers(
    session: Session,
    actor: User,
    filters: CustomerFilter | None = None,
    *,
    taxonomy: Taxonomy | None = None,
    sort: str = "code",
    limit: int = 100,
    offset: int = 0,
    warning_days: int = 30,
    now: datetime | None = None,
) -> tuple[list[Customer], int]:
    """One page of the customers ``actor`` may see that match ``filters``, and the total count.

    Args:
        session: Open session (read only).
        actor: The viewer; sales users get only customers they own.
        filters: What to show (default: everything visible).
        taxonomy: Customer types and their required documents (``complete``); default the
            built-in taxonomy.
        sort: A key of :data:`SORTABLE`, ``-`` in front for descending.
        limit, offset: The page.
        warning_days: A validity ending within this many days counts as expiring.
        now: The current time (the China day decides expiry); defaults to now.

    Raises:
        ValidationError: ``sort`` is not one of :data:`SORTABLE`, or a tag name is malformed.
    """
    where = customer_conditions(
        session,
        actor,
        filters or CustomerFilter(),
        taxonomy=taxonomy or load_taxonomy(),
        cutoff=expiry_cutoff(warning_days, now),
    )
    order = _order(sort)
    total = session.exec(select(func.count()).select_from(Customer).where(*where)).one()
    # The page's ids first (a deep offset then skips index entries, not whole rows), then rows.
    page = (
        select(col(Customer.id)).where(*where).order_by(*order).offset(offset).limit(limit)
    ).correlate(None)
    query = select(Customer).where(col(Customer.id).in_(page.scalar_subquery())).order_by(*order)
    return list(session.exec(query).all()), int(total)
