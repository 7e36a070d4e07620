"""Documents and customers as plain, JSON-ready dictionaries with stable field names.

The one record of a document and of a customer: every JSON output uses it (``dossier documents``
and ``dossier review`` with ``--json``, flows' artifacts, the web UI and the REST API). ``id`` is
the key everywhere; codes come with their Chinese labels. ID numbers and phones are masked unless
the caller asks for full values, and such a request is recorded with :func:`record_unmasked`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from archive.review import QueueItem
from config.clock import CHINA_TZ
from config.taxonomy import Taxonomy
from models import repo
from models.contact import Contact
from models.cooperation import Cooperation
from models.customer import Customer
from models.document import Document
from models.followup import FollowUp
from models.tag import Tag
from models.validation import mask_id_number, mask_phone


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def customer_record(
    customer: Customer,
    *,
    taxonomy: Taxonomy,
    unmask: bool = False,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """A customer as a dictionary; see README "JSON output" for the field list.

    ``tags`` (names) adds the key ``tags``; money is exact text in 元.
    """
    ctype = taxonomy.customer_type(customer.customer_type)
    id_number = customer.id_number
    phone = customer.phone
    if not unmask:
        id_number = mask_id_number(id_number) if id_number else None
        phone = mask_phone(phone) if phone else None
    return {
        "id": customer.id,
        "code": customer.code,
        "name": customer.name,
        "customer_type": customer.customer_type,
        "customer_type_label": ctype.label,
        "uscc": customer.uscc,
        "id_number": id_number,
        "legal_representative": customer.legal_representative,
        "established_date": _iso(customer.established_date),
        "contact_person": customer.contact_person,
        "phone": phone,
        "email": customer.email,
        "address": customer.address,
        "industry": customer.industry,
        "scale": customer.scale,
        "region": customer.region,
        "source_channel": customer.source_channel,
        "level": customer.level,
        "status": customer.status,
        "status_label": taxonomy.customer_status_label(customer.status),
        "owner_id": customer.owner_id,
        "notes": customer.notes,
        "first_cooperation_date": _iso(customer.first_cooperation_date),
        "latest_cooperation_date": _iso(customer.latest_cooperation_date),
        "cumulative_amount": _money(customer.cumulative_amount),
        "annual_amount": _money(customer.annual_amount),
        "value_tier": customer.value_tier,
        "level_reason": customer.level_reason,
        "manual_fields": list(customer.manual_fields or []),
        "decision_roles": list(customer.decision_roles or []),
        "follow_up_status": customer.follow_up_status,
        "complaint_count": customer.complaint_count,
        "complaint_type": customer.complaint_type,
        "last_service_date": _iso(customer.last_service_date),
        "satisfaction": customer.satisfaction,
        "campaigns": list(customer.campaigns or []),
        "version": customer.version,
        "created_by": customer.created_by,
        "created_at": _iso(customer.created_at),
        "updated_by": customer.updated_by,
        "updated_at": _iso(customer.updated_at),
    } | ({"tags": tags} if tags is not None else {})


def _money(value: Decimal | None) -> str | None:
    """Money (元) as exact text, e.g. ``"120000.00"``."""
    return str(value) if value is not None else None


def contact_record(contact: Contact, *, unmask: bool = False) -> dict[str, Any]:
    """A contact person as a dictionary; phone numbers masked unless ``unmask``."""
    hide = (lambda v: v) if unmask else mask_phone
    return {
        "id": contact.id,
        "customer_id": contact.customer_id,
        "name": contact.name,
        "gender": contact.gender,
        "department": contact.department,
        "title": contact.title,
        "mobile": hide(contact.mobile) if contact.mobile else None,
        "office_phone": hide(contact.office_phone) if contact.office_phone else None,
        "phones": [hide(p) for p in contact.phones or []],
        "email": contact.email,
        "wechat": contact.wechat,
        "responsibilities": contact.responsibilities,
        "communication_preference": contact.communication_preference,
        "relationship_level": contact.relationship_level,
        "is_primary": contact.is_primary,
        "is_decision_maker": contact.is_decision_maker,
        "created_by": contact.created_by,
        "updated_by": contact.updated_by,
        "created_at": _iso(contact.created_at),
        "updated_at": _iso(contact.updated_at),
    }


def follow_up_record(entry: FollowUp) -> dict[str, Any]:
    """A follow-up as a dictionary (``followed_at`` in China time)."""
    return {
        "id": entry.id,
        "customer_id": entry.customer_id,
        "followed_at": entry.followed_at.astimezone(CHINA_TZ).isoformat(),
        "followed_by": entry.followed_by,
        "channel": entry.channel,
        "content": entry.content,
        "next_step": entry.next_step,
        "next_date": _iso(entry.next_date),
        "status": entry.status,
        "created_by": entry.created_by,
        "created_at": _iso(entry.created_at),
    }


def cooperation_record(record: Cooperation) -> dict[str, Any]:
    """A cooperation record as a dictionary (amount as exact text in 元)."""
    return {
        "id": record.id,
        "customer_id": record.customer_id,
        "contract_no": record.contract_no,
        "name": record.name,
        "signed_date": _iso(record.signed_date),
        "effective_date": _iso(record.effective_date),
        "expiry_date": _iso(record.expiry_date),
        "amount": _money(record.amount),
        "payment_terms": record.payment_terms,
        "status": record.status,
        "created_by": record.created_by,
        "updated_by": record.updated_by,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
    }


def tag_record(tag: Tag, *, customers: int | None = None) -> dict[str, Any]:
    """A tag of the vocabulary, with how many customers have it when known."""
    record: dict[str, Any] = {
        "id": tag.id,
        "name": tag.name,
        "description": tag.description,
        "is_retired": tag.is_retired,
        "updated_by": tag.updated_by,
        "updated_at": _iso(tag.updated_at),
    }
    if customers is not None:
        record["customers"] = customers
    return record


def _mask_fields(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in fields.items():
        mask = mask_id_number if name == "id_number" else mask_phone if "phone" in name else None
        if mask is not None:
            if isinstance(raw, dict) and raw.get("value"):
                raw = {**raw, "value": mask(str(raw["value"]))}
            elif isinstance(raw, str) and raw:
                raw = mask(raw)
        out[name] = raw
    return out


def document_record(
    document: Document,
    *,
    customer: Customer | None,
    taxonomy: Taxonomy,
    unmask: bool = False,
    include_text: bool = False,
) -> dict[str, Any]:
    """A document as a dictionary: everything a script needs (see README "JSON output")."""
    dtype = taxonomy.document_type(document.document_type)
    fields = dict(document.fields or {})
    record: dict[str, Any] = {
        "id": document.id,
        "status": document.status,
        "status_label": taxonomy.document_status_label(document.status),
        "document_type": document.document_type,
        "document_type_label": dtype.label,
        "customer": (
            {"code": customer.code, "name": customer.name, "customer_type": customer.customer_type}
            if customer is not None
            else None
        ),
        "submitted_date": _iso(document.submitted_date),
        "original_filename": document.original_filename,
        "original_sha256": document.original_sha256,
        "original_size": document.original_size,
        "original_key": document.original_key,
        "pdf_key": document.pdf_key,
        "pdf_sha256": document.pdf_sha256,
        "pdf_size": document.pdf_size,
        "page_count": document.page_count,
        "ocr_confidence": document.ocr_confidence,
        "fields": fields if unmask else _mask_fields(fields),
        "review_reasons": [
            {"code": code, "label": taxonomy.reason_label(code)}
            for code in (document.review_reasons or [])
        ],
        "supersedes_id": document.supersedes_id,
        "ingest_run_id": document.ingest_run_id,
        "reviewed_by": document.reviewed_by,
        "reviewed_at": _iso(document.reviewed_at),
        "created_at": _iso(document.created_at),
        "updated_at": _iso(document.updated_at),
    }
    if include_text:
        record["ocr_text"] = document.ocr_text
    return record


def queue_record(item: QueueItem, *, taxonomy: Taxonomy) -> dict[str, Any]:
    """One row of the review queue, keyed and labelled like :func:`document_record`."""
    return {
        "id": item.document_id,
        "status": item.status,
        "status_label": taxonomy.document_status_label(item.status),
        "document_type": item.document_type,
        "document_type_label": taxonomy.document_type(item.document_type).label,
        "customer": (
            {
                "code": item.customer_code,
                "name": item.customer_name,
                "customer_type": item.customer_type,
            }
            if item.customer_code is not None
            else None
        ),
        "submitted_date": _iso(item.submitted_date),
        "original_filename": item.original_filename,
        "page_count": item.page_count,
        "review_reasons": [
            {"code": code, "label": taxonomy.reason_label(code)} for code in item.review_reasons
        ],
        "is_anomaly": item.is_anomaly,
        "owner_id": item.owner_id,
        "claimed_by": item.claimed_by,
        "claim_expires_at": _iso(item.claim_expires_at),
        "created_at": _iso(item.created_at),
    }


def record_unmasked(
    session: Session, *, actor: str, entity_type: str, entity_id: int | str
) -> None:
    """Audit that ``actor`` was shown full ID numbers and phones of one entity."""
    repo.add_audit_event(
        session,
        actor=actor,
        action=f"{entity_type}.reveal",
        entity_type=entity_type,
        entity_id=entity_id,
        detail="查看完整证件号码与电话",
    )
