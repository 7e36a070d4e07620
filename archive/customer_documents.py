"""A customer's documents at a glance (issue 15, item 6).

- :func:`document_summaries`: for each customer of a list page, the required documents present
  and the expired and expiring ones (what the list shows beside each record; the list itself is
  :mod:`archive.customer_query`).
- :func:`document_overview`: one customer's required-document checklist (资料清单, from the
  taxonomy's customer type), its expired and expiring documents, and the version chain of
  each document type.

The rules come from their one home: active statuses, expiry fields and the expiry check from
:mod:`archive.integrity`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from archive.integrity import (
    ACTIVE_STATUSES,
    EXPIRY_FIELDS,
    CheckOptions,
    DocRow,
    check_expiry,
)
from config.taxonomy import Taxonomy
from models.customer import Customer
from models.db import utcnow
from models.document import Document


@dataclass(frozen=True)
class DocumentSummary:
    """One customer's documents as a list row shows them."""

    required: int
    present: int
    expired: int
    expiring: int

    @property
    def complete(self) -> bool:
        return self.present >= self.required


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


def present_types(session: Session, ids: Sequence[int]) -> set[tuple[int, str]]:
    """(customer id, document type) for every type each customer has a live document of."""
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


def document_summaries(
    session: Session,
    customers: Sequence[Customer],
    *,
    taxonomy: Taxonomy,
    warning_days: int = 30,
    now: datetime | None = None,
) -> dict[int, DocumentSummary]:
    """Per customer id: required documents present, expired and expiring ones."""
    ids = [c.id for c in customers if c.id is not None]
    present = present_types(session, ids)
    documents: Sequence[Document] = []
    if ids:
        documents = session.exec(
            select(Document).where(
                col(Document.customer_id).in_(ids),
                col(Document.status).in_(ACTIVE_STATUSES),
                col(Document.document_type).in_(list(EXPIRY_FIELDS)),
            )
        ).all()
    expiry = expiry_items(documents, warning_days=warning_days, now=now)
    out = {}
    for c in customers:
        required = _required(taxonomy, c.customer_type)
        mine = [e.kind for e in expiry if e.document.customer_id == c.id]
        out[c.id or 0] = DocumentSummary(
            required=len(required),
            present=sum(1 for t in required if (c.id, t) in present),
            expired=mine.count("expired"),
            expiring=mine.count("expiring"),
        )
    return out


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
