"""The customer list (客户列表) and a customer's documents at a glance (issue 15, items 6 and 7).

Read-only queries for the pages and commands that show customers:

- :func:`list_customers`: filters (type, status, industry, level, value tier, region, owner,
  document completeness, expired or expiring documents), a search over name, code, contact
  person, phone and contacts' names, sorting and paging, always within what the user may see
  (:func:`archive.permissions.visible_customer_filter`). Every filter is a SQL condition, so
  the total and the page come from the database.
- :func:`document_overview`: one customer's required-document checklist (资料清单, from the
  taxonomy's customer type), its expired and expiring documents, and the version chain of
  each document type.

The rules come from their one home: active statuses, expiry fields and the expiry check from
:mod:`archive.integrity`, the value tier thresholds from :mod:`models.customer_fields`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from archive.integrity import (
    ACTIVE_STATUSES,
    EXPIRY_FIELDS,
    CheckOptions,
    DocRow,
    check_expiry,
)
from archive.permissions import visible_customer_filter
from config.taxonomy import Taxonomy
from models.customer import Contact, Customer, normalize_customer_name
from models.customer_fields import DEFAULT_TIERS, value_tier
from models.db import utcnow
from models.document import Document
from models.user import User

#: Sort keys of the list (a leading ``-`` sorts descending).
SORT_COLUMNS: dict[str, Any] = {
    "code": Customer.code,
    "name": Customer.name_key,
    "updated": Customer.updated_at,
    "amount": Customer.cumulative_amount,
}
DEFAULT_SORT = "-updated"
#: ISO dates only (``2026-12-31``, maybe followed by more text); ``长期`` never matches.
_ISO_DATE_LIKE = "____-__-__%"


@dataclass(frozen=True)
class CustomerQuery:
    """What the list shows; ``None`` means "any". ``complete``: all required documents present."""

    text: str | None = None
    customer_type: str | None = None
    status: str | None = None
    industry: str | None = None
    level: str | None = None
    tier: str | None = None
    region: str | None = None
    owner_id: int | None = None
    complete: bool | None = None
    expiring: bool = False
    sort: str = DEFAULT_SORT


@dataclass(frozen=True)
class CustomerRow:
    """One customer of the list with what the list shows beside the record."""

    customer: Customer
    tier: str | None
    required: int
    present: int
    expired: int
    expiring: int

    @property
    def complete(self) -> bool:
        return self.present >= self.required


@dataclass(frozen=True)
class CustomerPage:
    rows: list[CustomerRow]
    total: int


@dataclass(frozen=True)
class ChecklistItem:
    """A required document type and the document in effect for it (None: missing)."""

    document_type: str
    label: str
    document: Document | None


@dataclass(frozen=True)
class ExpiryItem:
    """A document that has expired (``kind="expired"``) or expires soon (``"expiring"``)."""

    document: Document
    kind: str
    valid_until: str


@dataclass(frozen=True)
class DocumentOverview:
    checklist: list[ChecklistItem]
    expiry: list[ExpiryItem]
    #: Per document type (taxonomy order): its version chains, each newest first.
    chains: list[tuple[str, list[list[Document]]]] = field(default_factory=list)

    @property
    def required(self) -> int:
        return len(self.checklist)

    @property
    def present(self) -> int:
        return sum(1 for item in self.checklist if item.document is not None)


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


def tier_condition(tier: str) -> sa.ColumnElement[bool]:
    """Customers whose cumulative amount falls in ``tier`` (:data:`DEFAULT_TIERS`)."""
    amount = col(Customer.cumulative_amount)
    upper: Decimal | None = None
    for name, lowest in DEFAULT_TIERS:
        if name == tier:
            below = [amount < upper] if upper is not None else []
            return sa.and_(amount >= lowest, *below)
        upper = lowest
    return sa.false()


def text_condition(text: str) -> sa.ColumnElement[bool]:
    """Name (normalized), code, contact person, phone or a contact's name contains ``text``."""
    key = normalize_customer_name(text)
    contact = sa.exists().where(
        col(Contact.customer_id) == col(Customer.id),
        col(Contact.name).contains(text, autoescape=True),
    )
    return sa.or_(
        col(Customer.name_key).contains(key, autoescape=True),
        col(Customer.code).contains(text.upper(), autoescape=True),
        col(Customer.contact_person).contains(text, autoescape=True),
        col(Customer.phone).contains(key, autoescape=True),
        contact,
    )


def _conditions(
    query: CustomerQuery, *, user: User, taxonomy: Taxonomy, cutoff: date
) -> list[sa.ColumnElement[bool]]:
    out: list[sa.ColumnElement[bool]] = [visible_customer_filter(user)]
    equal = (
        (Customer.customer_type, query.customer_type),
        (Customer.status, query.status),
        (Customer.industry, query.industry),
        (Customer.level, query.level),
        (Customer.region, query.region),
        (Customer.owner_id, query.owner_id),
    )
    out += [col(column) == value for column, value in equal if value is not None]
    if query.tier:
        out.append(tier_condition(query.tier))
    if query.complete is not None:
        complete = complete_condition(taxonomy)
        out.append(complete if query.complete else sa.not_(complete))
    if query.expiring:
        out.append(expiring_condition(cutoff))
    if query.text and query.text.strip():
        out.append(text_condition(query.text.strip()))
    return out


def _order(sort: str) -> list[Any]:
    name = sort.lstrip("-")
    column = col(SORT_COLUMNS.get(name, SORT_COLUMNS[DEFAULT_SORT.lstrip("-")]))
    if name not in SORT_COLUMNS:
        sort = DEFAULT_SORT
    first = column.desc() if sort.startswith("-") else column.asc()
    tie = col(Customer.id).desc() if sort.startswith("-") else col(Customer.id).asc()
    return [first.nulls_last(), tie]


# --- the list ---------------------------------------------------------------------------------


def _today(now: datetime | None) -> date:
    return CheckOptions(now=now or utcnow()).today


def list_customers(
    session: Session,
    *,
    user: User,
    taxonomy: Taxonomy,
    query: CustomerQuery,
    limit: int = 50,
    offset: int = 0,
    warning_days: int = 30,
    now: datetime | None = None,
) -> CustomerPage:
    """One page of the customers ``user`` may see that match ``query``, and their total.

    Args:
        session: Open session (read only).
        user: The viewer; sales users get only customers they own.
        taxonomy: Customer types and their required documents.
        query: Filters, search text and sort key.
        limit, offset: The page.
        warning_days: A validity ending within this many days counts as expiring.
        now: The current time (China day decides expiry); defaults to now.
    """
    cutoff = _today(now) + timedelta(days=warning_days)
    where = _conditions(query, user=user, taxonomy=taxonomy, cutoff=cutoff)
    total = int(session.exec(select(func.count()).select_from(Customer).where(*where)).one())
    customers = list(
        session.exec(
            select(Customer).where(*where).order_by(*_order(query.sort)).offset(offset).limit(limit)
        ).all()
    )
    rows = _rows(session, customers, taxonomy=taxonomy, warning_days=warning_days, now=now)
    return CustomerPage(rows=rows, total=total)


def _present_types(session: Session, ids: Sequence[int]) -> set[tuple[int, str]]:
    if not ids:
        return set()
    found = session.exec(
        select(Document.customer_id, Document.document_type)
        .distinct()
        .where(col(Document.customer_id).in_(ids), col(Document.status).in_(ACTIVE_STATUSES))
    ).all()
    return {(int(cid), str(t)) for cid, t in found if cid is not None}


def _required(taxonomy: Taxonomy, customer_type: str) -> tuple[str, ...]:
    for ct in taxonomy.customer_types:
        if ct.code == customer_type:
            return ct.required_documents
    return ()


def _rows(
    session: Session,
    customers: list[Customer],
    *,
    taxonomy: Taxonomy,
    warning_days: int,
    now: datetime | None,
) -> list[CustomerRow]:
    ids = [c.id for c in customers if c.id is not None]
    present = _present_types(session, ids)
    documents = []
    if ids:
        documents = session.exec(
            select(Document).where(
                col(Document.customer_id).in_(ids),
                col(Document.status).in_(ACTIVE_STATUSES),
                col(Document.document_type).in_(list(EXPIRY_FIELDS)),
            )
        ).all()
    expiry = expiry_items(documents, warning_days=warning_days, now=now)
    rows = []
    for c in customers:
        required = _required(taxonomy, c.customer_type)
        mine = [e for e in expiry if e.document.customer_id == c.id]
        rows.append(
            CustomerRow(
                customer=c,
                tier=value_tier(c.cumulative_amount),
                required=len(required),
                present=sum(1 for t in required if (c.id, t) in present),
                expired=sum(1 for e in mine if e.kind == "expired"),
                expiring=sum(1 for e in mine if e.kind == "expiring"),
            )
        )
    return rows


# --- one customer's documents -----------------------------------------------------------------


def _doc_row(doc: Document) -> DocRow:
    return DocRow(
        id=doc.id or 0,
        customer_id=doc.customer_id,
        customer_code=None,
        customer_name=None,
        customer_type=None,
        document_type=doc.document_type,
        status=doc.status,
        submitted_date=doc.submitted_date,
        original_filename=doc.original_filename,
        original_key=doc.original_key,
        original_sha256=doc.original_sha256,
        original_size=doc.original_size,
        pdf_key=doc.pdf_key,
        pdf_sha256=doc.pdf_sha256,
        pdf_size=doc.pdf_size,
        page_count=doc.page_count,
        has_text=True,
        fields=doc.fields or {},
        created_at=doc.created_at,
    )


def expiry_items(
    documents: Iterable[Document], *, warning_days: int = 30, now: datetime | None = None
) -> list[ExpiryItem]:
    """The expired and expiring ones among ``documents`` (the integrity check's rule)."""
    options = CheckOptions(now=now or utcnow(), expiry_warning_days=warning_days)
    out = []
    for doc in documents:
        for finding in check_expiry(_doc_row(doc), options=options):
            until = str(finding.detail.get("valid_until") or "")
            out.append(ExpiryItem(document=doc, kind=finding.kind, valid_until=until))
    return sorted(out, key=lambda e: (e.valid_until, e.document.id or 0))


def version_chains(documents: Sequence[Document]) -> list[list[Document]]:
    """Documents grouped into version chains (``supersedes_id``), each newest first.

    Chains whose newest document is in effect come first.
    """
    by_id = {d.id: d for d in documents}
    replaced = {d.supersedes_id for d in documents if d.supersedes_id in by_id}
    chains = []
    heads = [d for d in documents if d.id not in replaced]
    # Chains whose newest document is in effect first, then newest first.
    heads.sort(key=lambda d: (d.status not in ACTIVE_STATUSES, -(d.id or 0)))
    for head in heads:
        chain = [head]
        while chain[-1].supersedes_id in by_id and by_id[chain[-1].supersedes_id] not in chain:
            chain.append(by_id[chain[-1].supersedes_id])
        chains.append(chain)
    return chains


def document_overview(
    session: Session,
    *,
    customer: Customer,
    taxonomy: Taxonomy,
    warning_days: int = 30,
    now: datetime | None = None,
    limit: int = 500,
) -> DocumentOverview:
    """The checklist, expired/expiring documents and version chains of one customer."""
    documents = list(
        session.exec(
            select(Document)
            .where(col(Document.customer_id) == customer.id)
            .order_by(col(Document.id).desc())
            .limit(limit)
        ).all()
    )
    active = [d for d in documents if d.status in ACTIVE_STATUSES]
    checklist = []
    for doc_type in _required(taxonomy, customer.customer_type):
        current = next((d for d in active if d.document_type == doc_type), None)
        checklist.append(ChecklistItem(doc_type, taxonomy.document_type(doc_type).label, current))
    chains = []
    for dt in taxonomy.document_types:
        of_type = [d for d in documents if d.document_type == dt.code]
        if of_type:
            chains.append((dt.code, version_chains(of_type)))
    return DocumentOverview(
        checklist=checklist,
        expiry=expiry_items(active, warning_days=warning_days, now=now),
        chains=chains,
    )
