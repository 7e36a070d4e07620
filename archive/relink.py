"""Order-independent linking: look again at documents once every customer is known.

Two files processed in either order (or at the same time, by two workers) must end with the
same links. Filing decides with the customers it can see; this pass, run after each intake
pass and on a schedule, asks :func:`archive.linking.find_customer` again for

- **unlinked** documents (``customer_id`` empty, reason ``unlinked`` or ``ambiguous_customer``,
  not rejected or superseded): linked when the answer is now one known customer. A new
  customer is never created here (filing already decided not to);
- **provisionally linked** documents: still waiting for review and linked to a *provisional
  customer* - a 潜在客户 the intake created from this very document, with nothing else on it
  (no other document, contact, follow-up, cooperation record, never edited by a person). The
  question is asked without that customer; when another customer now answers unambiguously
  (an ID card whose name is the 法定代表人 of a company whose license came later), the document
  moves there and the provisional customer is folded into it (``customer.merge``, every field
  kept in the audit event), exactly as if the license had come first.

A link found here records why: the audit event ``document.auto_relink`` (from which customer, to
which, matched by what), ``fields["_relinked"]`` and the reason ``auto_relinked`` for the
reviewer; the link reasons are dropped. The linked customer's empty fields are filled from the
document (:mod:`archive.document_customer`); then the document's objects are moved to the keys
its customer calls for through the review module's ``refile`` (copy -> verify -> commit ->
delete). A refile that fails (storage down) leaves the link and the old keys; ``dossier check``
reports the drift and the next pass or ``refile`` moves them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlmodel import Session, col, select

from archive.document_customer import sync_customer_fields
from archive.errors import StorageError
from archive.filing import filing_order
from archive.linking import LinkResult, find_customer
from archive.review import refile
from archive.storage.base import ObjectStore
from config.errors import DossierError
from config.taxonomy import Taxonomy
from models import repo
from models.audit import SYSTEM_ACTOR
from models.contact import Contact
from models.cooperation import Cooperation
from models.customer import Customer, CustomerStatus
from models.db import utcnow
from models.document import QUEUE_STATUSES, Document, DocumentStatus
from models.followup import FollowUp
from models.repo.base import lock_row
from models.repo.merge import merge_customer_into

log = logging.getLogger(__name__)

#: Reasons that say a document has no customer yet (dropped once it has one).
LINK_REASONS = ("unlinked", "ambiguous_customer", "contract_party_unknown")
RELINKED = "auto_relinked"
_CLOSED = (DocumentStatus.REJECTED.value, DocumentStatus.SUPERSEDED.value)
#: Passes over the pending documents: a link can make a bundle sibling's link unambiguous.
_MAX_ROUNDS = 3


@dataclass(frozen=True)
class RelinkChange:
    """One document linked by the pass."""

    document_id: int
    customer_code: str
    matched_by: str | None
    previous_code: str | None = None  # the provisional customer it was linked to
    folded: bool = False  # that customer was folded into the new one


@dataclass
class RelinkReport:
    """What one relink pass looked at and did."""

    examined: int = 0
    linked: list[RelinkChange] = field(default_factory=list)
    filled: dict[int, list[str]] = field(default_factory=dict)
    flagged: list[int] = field(default_factory=list)
    refile_failed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # document id -> error code

    def as_dict(self) -> dict[str, object]:
        return {
            "examined": self.examined,
            "linked": [asdict(c) for c in self.linked],
            "filled": {str(k): v for k, v in self.filled.items()},
            "flagged": self.flagged,
            "refile_failed": self.refile_failed,
            "failed": {str(k): v for k, v in self.failed.items()},
        }


# --- which documents ----------------------------------------------------------------------------


def _unlinked_ids(session: Session) -> list[int]:
    rows = session.exec(
        select(Document.id, Document.review_reasons).where(
            col(Document.customer_id).is_(None), col(Document.status).not_in(_CLOSED)
        )
    ).all()
    return [int(i) for i, reasons in rows if i is not None and set(reasons or ()) & {*LINK_REASONS}]


def _provisional_ids(session: Session) -> list[int]:
    """Queue documents whose customer is a system-made prospect (checked one by one later)."""
    rows = session.exec(
        select(Document.id)
        .join(Customer, col(Customer.id) == col(Document.customer_id))
        .where(
            col(Document.status).in_(QUEUE_STATUSES),
            Customer.status == CustomerStatus.PROSPECT.value,
            Customer.created_by == SYSTEM_ACTOR,
        )
    ).all()
    return [int(i) for i in rows if i is not None]


def pending_document_ids(session: Session) -> list[int]:
    """Documents the relink pass looks at: unlinked ones, then possibly provisional ones."""
    return sorted({*_unlinked_ids(session), *_provisional_ids(session)})


def _count(session: Session, model: type, customer_id: int) -> int:
    ids = session.exec(
        select(model.id).where(model.customer_id == customer_id).limit(2)  # type: ignore[attr-defined]
    ).all()
    return len(ids)


def provisional_customer(session: Session, document: Document) -> Customer | None:
    """The customer ``document`` created for itself and nothing else uses, or None."""
    if document.customer_id is None or document.status not in QUEUE_STATUSES:
        return None
    customer = session.get(Customer, document.customer_id)
    if (
        customer is None
        or customer.status != CustomerStatus.PROSPECT.value
        or customer.created_by != SYSTEM_ACTOR
        or customer.updated_by != SYSTEM_ACTOR
        or customer.manual_fields
        or customer.created_at > document.created_at
    ):
        return None
    cid = customer.id or 0
    if _count(session, Document, cid) != 1:
        return None
    if any(_count(session, m, cid) for m in (Contact, FollowUp, Cooperation)):
        return None
    return customer


def _bundle(session: Session, document: Document) -> list[Customer]:
    """Customers of the other documents of the same input file, licenses and forms first."""
    siblings = session.exec(
        select(Document).where(
            Document.original_sha256 == document.original_sha256,
            Document.claim_id == document.claim_id,
            Document.id != document.id,
            col(Document.customer_id).is_not(None),
            col(Document.status).not_in(_CLOSED),
            Document.document_type != "id_card",
        )
    ).all()
    customers: list[Customer] = []
    for i in filing_order(siblings):  # type: ignore[arg-type]  # reads document_type only
        customer = session.get(Customer, siblings[i].customer_id)
        if customer is not None and all(c.id != customer.id for c in customers):
            customers.append(customer)
    return customers


# --- one document -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Decision:
    customer: Customer
    link: LinkResult
    provisional: Customer | None


def _decide(session: Session, document: Document) -> _Decision | None:
    """The customer ``document`` now belongs to, when that is a change and unambiguous."""
    if document.status in _CLOSED:
        return None
    provisional = None
    if document.customer_id is not None:
        provisional = provisional_customer(session, document)
        if provisional is None:
            return None
    elif not set(document.review_reasons or ()) & {*LINK_REASONS}:
        return None
    link = find_customer(
        session,
        document_type=document.document_type,
        fields=document.fields or {},
        bundle=_bundle(session, document),
        exclude=(provisional.id,) if provisional is not None and provisional.id else (),
    )
    if link.customer is None or link.customer.id == document.customer_id:
        return None
    return _Decision(link.customer, link, provisional)


def _version_changes(
    session: Session, document: Document, customer: Customer, taxonomy: Taxonomy
) -> dict[str, object]:
    if (
        document.supersedes_id is not None
        or not taxonomy.document_type(document.document_type).versioned
    ):
        return {}
    current = repo.current_document_of_type(
        session, customer_id=customer.id or 0, document_type=document.document_type
    )
    if current is None or current.id == document.id:
        return {}
    return {"supersedes_id": current.id}


def _link(
    session: Session, document: Document, decision: _Decision, taxonomy: Taxonomy, actor: str
) -> RelinkChange:
    """Point the document at its customer, with the reasons and note saying why (no commit)."""
    customer, provisional = decision.customer, decision.provisional
    reasons = [r for r in document.review_reasons or [] if r not in LINK_REASONS]
    changes: dict[str, object] = {"customer_id": customer.id}
    changes.update(_version_changes(session, document, customer, taxonomy))
    if "supersedes_id" in changes:
        reasons.append("new_version")
        if document.status == DocumentStatus.PENDING_REVIEW.value:
            changes["status"] = DocumentStatus.UPDATING.value  # as filing marks a new version
    note = {
        "customer": customer.code,
        "matched_by": decision.link.matched_by,
        "previous": provisional.code if provisional is not None else None,
        "at": utcnow().isoformat(),
    }
    fields = {k: v for k, v in (document.fields or {}).items() if k != "_candidates"}
    changes["fields"] = {**fields, "_relinked": note}
    changes["review_reasons"] = list(dict.fromkeys([*reasons, RELINKED]))
    was = f"（原关联 {provisional.code}）" if provisional is not None else ""
    repo.update_document(
        session,
        document_id=document.id or 0,
        changes=changes,
        actor=actor,
        action="document.auto_relink",
        detail=f"所有客户已知后自动关联到 {customer.code}，依据 {decision.link.matched_by}{was}",
        taxonomy=taxonomy,
    )
    if provisional is not None:
        merge_customer_into(session, kept=customer, duplicate=provisional, actor=actor)
    return RelinkChange(
        document_id=document.id or 0,
        customer_code=customer.code,
        matched_by=decision.link.matched_by,
        previous_code=provisional.code if provisional is not None else None,
        folded=provisional is not None,
    )


def relink_document(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    taxonomy: Taxonomy,
    report: RelinkReport,
    actor: str = SYSTEM_ACTOR,
) -> RelinkChange | None:
    """Look at one document again; link, fill, commit and refile when the answer changed."""
    try:
        document = lock_row(session, Document, document_id)
        decision = _decide(session, document)
        if decision is None:
            session.rollback()
            return None
        change = _link(session, document, decision, taxonomy, actor)
        synced = sync_customer_fields(session, document=document, taxonomy=taxonomy)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    report.linked.append(change)
    if synced is not None and synced.filled:
        report.filled[document_id] = synced.filled
    if synced is not None and synced.differences:
        report.flagged.append(document_id)
    try:
        refile(session, store, document_id=document_id, taxonomy=taxonomy, actor=actor)
    except StorageError as e:
        session.rollback()
        log.warning("document %s relinked but not refiled: %s", document_id, e.code)
        report.refile_failed.append(document_id)
    return change


def relink_pending(
    session: Session,
    store: ObjectStore,
    *,
    taxonomy: Taxonomy,
    actor: str = SYSTEM_ACTOR,
    document_ids: Sequence[int] | None = None,
) -> RelinkReport:
    """One relink pass over every unlinked or provisionally linked document (commits).

    Args:
        session: Open session (committed per document).
        store: Where the documents' objects are moved.
        taxonomy: Types (versioned or not) and naming templates.
        actor: Who the audit events name.
        document_ids: Only these documents (default: :func:`pending_document_ids`).
    """
    report = RelinkReport()
    seen: set[int] = set()
    for _round in range(_MAX_ROUNDS):
        ids = list(document_ids) if document_ids is not None else pending_document_ids(session)
        seen.update(ids)
        before = len(report.linked)
        for document_id in ids:
            if document_id in report.failed:
                continue
            try:
                relink_document(
                    session,
                    store,
                    document_id=document_id,
                    taxonomy=taxonomy,
                    report=report,
                    actor=actor,
                )
            except DossierError as e:  # this document stays as it is; the others go on
                log.warning("document %s not relinked: %s", document_id, e.code)
                report.failed[document_id] = str(e.code)
        if len(report.linked) == before:
            break
    report.examined = len(seen)
    if report.linked:
        log.info("relink pass: %d of %d document(s) linked", len(report.linked), len(seen))
    return report
