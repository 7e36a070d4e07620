"""Documents and customers as plain, JSON-ready dictionaries with stable field names.

The one record of a document and of a customer: every JSON output uses it (``dossier documents``
and ``dossier review`` with ``--json``, flows' artifacts, the web UI and the REST API). ``id`` is
the key everywhere; codes come with their Chinese labels. ID numbers and phones are masked unless
the caller asks for full values, and such a request is recorded with :func:`record_unmasked`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from archive.review import QueueItem
from config.taxonomy import Taxonomy
from models import repo
from models.customer import Customer
from models.document import Document
from models.validation import mask_id_number, mask_phone


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def customer_record(
    customer: Customer, *, taxonomy: Taxonomy, unmask: bool = False
) -> dict[str, Any]:
    """A customer as a dictionary; see README "JSON output" for the field list."""
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
        "created_by": customer.created_by,
        "created_at": _iso(customer.created_at),
        "updated_by": customer.updated_by,
        "updated_at": _iso(customer.updated_at),
    }


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
