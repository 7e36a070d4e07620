"""What the notifications beyond expiry announce, read from the archive as plain data.

- :func:`rejected_documents`: documents rejected (已驳回) since a moment, with the reason;
- :func:`critical_runs`: integrity runs since a moment with critical findings first seen in
  that run (``new``: a finding carried over from the run before was announced then);
- :func:`incomplete_checklists`: customers created before a moment still missing a document
  their customer type requires (资料清单), lost customers (流失客户) left out.

Quarantined files are the intake's (``ingest.quarantine``); ``app.notify.events`` reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from archive.customer_documents import present_types
from config.errors import DossierError
from config.taxonomy import Taxonomy
from models.customer import Customer, CustomerStatus
from models.document import Document, DocumentStatus
from models.runs import FindingStatus, IntegrityFinding, IntegrityRun, Severity

_PAGE = 500


def rejected_documents(session: Session, *, since: datetime) -> list[Document]:
    """Documents rejected at or after ``since``, oldest first."""
    return list(
        session.exec(
            select(Document)
            .where(
                Document.status == DocumentStatus.REJECTED.value,
                col(Document.reviewed_at) >= since,
            )
            .order_by(col(Document.reviewed_at), col(Document.id))
        ).all()
    )


@dataclass(frozen=True)
class CriticalRun:
    """An integrity run and its critical findings first seen in it."""

    run: IntegrityRun
    findings: list[IntegrityFinding]


def critical_runs(session: Session, *, since: datetime) -> list[CriticalRun]:
    """Integrity runs started at or after ``since`` with new critical findings, oldest first."""
    runs = session.exec(
        select(IntegrityRun)
        .where(col(IntegrityRun.started_at) >= since)
        .order_by(col(IntegrityRun.started_at))
    ).all()
    out = []
    for run in runs:
        findings = session.exec(
            select(IntegrityFinding)
            .where(
                IntegrityFinding.run_id == run.id,
                IntegrityFinding.severity == Severity.CRITICAL.value,
                IntegrityFinding.status == FindingStatus.NEW.value,
            )
            .order_by(col(IntegrityFinding.id))
        ).all()
        if findings:
            out.append(CriticalRun(run, list(findings)))
    return out


@dataclass(frozen=True)
class IncompleteChecklist:
    """A customer and the required document types it still lacks (taxonomy order)."""

    customer: Customer
    missing: tuple[str, ...]


def incomplete_checklists(
    session: Session, *, taxonomy: Taxonomy, created_before: datetime
) -> Iterator[IncompleteChecklist]:
    """Customers created before ``created_before`` still missing a required document."""
    after = 0
    while True:
        page = session.exec(
            select(Customer)
            .where(
                col(Customer.id) > after,
                col(Customer.created_at) < created_before,
                Customer.status != CustomerStatus.LOST.value,
            )
            .order_by(col(Customer.id))
            .limit(_PAGE)
        ).all()
        if not page:
            return
        after = page[-1].id or 0
        present = present_types(session, [c.id for c in page if c.id is not None])
        for customer in page:
            missing = tuple(
                t for t in _required(taxonomy, customer) if (customer.id, t) not in present
            )
            if missing:
                yield IncompleteChecklist(customer, missing)


def _required(taxonomy: Taxonomy, customer: Customer) -> tuple[str, ...]:
    try:
        return tuple(taxonomy.customer_type(customer.customer_type).required_documents)
    except DossierError:
        return ()


__all__ = [
    "CriticalRun",
    "IncompleteChecklist",
    "critical_runs",
    "incomplete_checklists",
    "rejected_documents",
]
