"""Fields read from a document fill its customer's EMPTY fields; differences go to review.

A license fills 名称, 统一社会信用代码, 法定代表人, 地址, 成立日期; a customer form (客户资料登记表)
fills 联系人, 联系方式, 电子邮箱, 地址 (``archive.linking.CUSTOMER_FIELDS_BY_TYPE``). Only values
without any doubt reason fill a field. A value that differs from a filled field is never
written: the document gets the reason ``field_mismatch`` and ``fields["_differences"]`` lists
``{"field", "record", "document"}`` for the reviewer. Both are audited (``customer.update`` and
``document.customer_fields``).

Filing does this for licenses as it files them (``archive.filing``); :func:`sync_customer_fields`
does it for any document afterwards (after each intake pass and after a relink).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlmodel import Session

from archive.linking import CUSTOMER_FIELDS_BY_TYPE, compare_customer_fields
from config.errors import DossierError
from config.taxonomy import Taxonomy
from models import repo
from models.audit import SYSTEM_ACTOR
from models.customer import Customer
from models.document import Document, DocumentStatus
from models.validation import field_label

log = logging.getLogger(__name__)

MISMATCH = "field_mismatch"


@dataclass
class SyncResult:
    """What one document did to its customer's record."""

    document_id: int
    filled: list[str] = field(default_factory=list)
    differences: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


def _fill(
    session: Session, customer: Customer, fills: dict[str, str], taxonomy: Taxonomy
) -> str | None:
    """Write the empty fields (audited as ``customer.update`` by ``system``); the error text
    when the record refuses them (e.g. the USCC belongs to another customer)."""
    try:
        repo.update_customer(
            session,
            code=customer.code,
            changes=fills,
            actor=SYSTEM_ACTOR,
            taxonomy=taxonomy,
            from_document=True,
        )
    except DossierError as e:
        log.info("customer %s not filled from a document: %s", customer.code, e.code)
        return e.message
    return None


def sync_customer_fields(
    session: Session,
    *,
    document: Document,
    taxonomy: Taxonomy,
    reopen: bool = False,
    actor: str = SYSTEM_ACTOR,
) -> SyncResult | None:
    """Fill the customer's empty fields from ``document`` and flag differences (no commit).

    Args:
        session: Open session; the caller commits.
        document: A linked document of a type in ``CUSTOMER_FIELDS_BY_TYPE``.
        taxonomy: For validating the customer's values.
        reopen: An archived document that now differs from its customer goes back to
            待审核 (used for documents just filed; an old approved document stays archived).
        actor: Who the document's audit event names.

    Returns:
        What was done, or None when the document has no customer or no such fields.
    """
    if document.customer_id is None or document.document_type not in CUSTOMER_FIELDS_BY_TYPE:
        return None
    customer = session.get(Customer, document.customer_id)
    if customer is None:
        return None
    fields = dict(document.fields or {})
    comparison = compare_customer_fields(customer, fields, document_type=document.document_type)
    result = SyncResult(document_id=document.id or 0, differences=comparison.differences)
    if comparison.fills:
        result.error = _fill(session, customer, comparison.fills, taxonomy)
        if result.error is None:
            result.filled = sorted(comparison.fills)
            fields["_customer_filled"] = sorted(
                {*fields.get("_customer_filled", ()), *result.filled}
            )
        else:
            fields["_customer_fill_error"] = {
                "fields": sorted(comparison.fills),
                "message": result.error,
            }
    reasons = list(document.review_reasons or [])
    changes: dict[str, object] = {}
    if comparison.differences:
        fields["_differences"] = comparison.differences
        if MISMATCH not in reasons:
            changes["review_reasons"] = [*reasons, MISMATCH]
        if reopen and document.status == DocumentStatus.ARCHIVED.value:
            changes["status"] = DocumentStatus.PENDING_REVIEW.value
    if fields != (document.fields or {}):
        changes["fields"] = fields
    if changes:
        repo.update_document(
            session,
            document_id=document.id or 0,
            changes=changes,
            actor=actor,
            action="document.customer_fields",
            detail=_detail(customer.code, result),
            taxonomy=taxonomy,
        )
    return result


def _detail(code: str, result: SyncResult) -> str:
    parts = [f"客户 {code}"]
    if result.filled:
        parts.append("已补填：" + "、".join(field_label(f) for f in result.filled))
    if result.differences:
        parts.append(
            "与档案不一致：" + "、".join(field_label(d["field"]) for d in result.differences)
        )
    if result.error:
        parts.append(f"未能补填：{result.error}")
    return "；".join(parts)


def sync_documents(
    session: Session, *, document_ids: list[int], taxonomy: Taxonomy, reopen: bool = True
) -> list[SyncResult]:
    """:func:`sync_customer_fields` for several documents (commits once at the end)."""
    results: list[SyncResult] = []
    for document_id in document_ids:
        document = session.get(Document, document_id)
        if document is None or document.status in (
            DocumentStatus.REJECTED.value,
            DocumentStatus.SUPERSEDED.value,
        ):
            continue
        found = sync_customer_fields(session, document=document, taxonomy=taxonomy, reopen=reopen)
        if found is not None:
            results.append(found)
    session.commit()
    return results
