"""Documents: recorded once their objects are stored, changed column by column, versioned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from config.taxonomy import Taxonomy, load_taxonomy
from models.customer import Customer
from models.db import utcnow
from models.document import (
    UPDATABLE_FIELDS,
    Document,
    DocumentCreate,
    DocumentStatus,
    check_document_status,
    check_document_type,
    check_json_fields,
    check_reasons,
    has_anomaly,
)
from models.errors import NotFoundError, ValidationError
from models.repo.audit import add_audit_event
from models.repo.base import atomic, field_changes, snapshot

#: A document "in effect" for its customer and type (see current_document_of_type).
CURRENT_STATUSES = (DocumentStatus.ARCHIVED.value, DocumentStatus.UPDATING.value)

DOCUMENT_AUDIT_FIELDS = (
    "customer_id",
    "document_type",
    "status",
    "submitted_date",
    "original_filename",
    "original_key",
    "original_sha256",
    "pdf_key",
    "pdf_sha256",
    "page_count",
    "review_reasons",
    "supersedes_id",
    "ingest_run_id",
)


def _check_document_refs(session: Session, values: Mapping[str, Any]) -> None:
    customer_id = values.get("customer_id")
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise ValidationError("关联的客户不存在", field="customer_id", reason="not_found")
    supersedes_id = values.get("supersedes_id")
    if supersedes_id is not None and session.get(Document, supersedes_id) is None:
        raise ValidationError("被替换的资料不存在", field="supersedes_id", reason="not_found")


def create_document(
    session: Session,
    *,
    data: DocumentCreate | Mapping[str, Any],
    actor: str,
    taxonomy: Taxonomy | None = None,
) -> Document:
    """Record a document (its objects must already be stored and verified).

    A new version passes ``supersedes_id``; marking the old one ``superseded`` is the
    caller's decision (``update_document``), typically when the new one is archived.

    Raises:
        ValidationError: A value is missing or invalid, or a referenced row does not exist.
    """
    if not isinstance(data, DocumentCreate):
        data = DocumentCreate.model_validate(dict(data), context={"taxonomy": taxonomy})
    values = data.model_dump()
    _check_document_refs(session, values)
    with atomic(session):
        stamp = utcnow()
        document = Document(
            **values,
            is_anomaly=has_anomaly(values["review_reasons"]),
            created_at=stamp,
            updated_at=stamp,
        )
        session.add(document)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="document.create",
            entity_type="document",
            entity_id=document.id or "",
            after=snapshot(document, DOCUMENT_AUDIT_FIELDS),
        )
    return document


def get_document(session: Session, *, document_id: int) -> Document | None:
    """The document with this id, or None."""
    return session.get(Document, document_id)


def list_documents(
    session: Session,
    *,
    status: str | None = None,
    customer_id: int | None = None,
    document_type: str | None = None,
    submitted_by: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Document]:
    """Documents, newest first, optionally filtered."""
    query = select(Document)
    if submitted_by is not None:
        query = query.where(Document.submitted_by == submitted_by)
    if status is not None:
        query = query.where(Document.status == status)
    if customer_id is not None:
        query = query.where(Document.customer_id == customer_id)
    if document_type is not None:
        query = query.where(Document.document_type == document_type)
    query = query.order_by(col(Document.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query).all())


def find_documents_by_sha256(session: Session, *, sha256: str) -> list[Document]:
    """Documents whose original or normalized PDF has this SHA-256 (duplicate detection)."""
    digest = sha256.strip().lower()
    query = (
        select(Document)
        .where(or_(Document.original_sha256 == digest, Document.pdf_sha256 == digest))
        .order_by(col(Document.id))
    )
    return list(session.exec(query).all())


def current_document_of_type(
    session: Session,
    *,
    customer_id: int,
    document_type: str,
    statuses: Sequence[str] = CURRENT_STATUSES,
) -> Document | None:
    """The newest document of a type in effect for a customer (archived or being updated)."""
    query = (
        select(Document)
        .where(
            Document.customer_id == customer_id,
            Document.document_type == document_type,
            col(Document.status).in_(list(statuses)),
        )
        .order_by(col(Document.id).desc())
    )
    return session.exec(query).first()


def _clean_document_changes(
    session: Session, changes: Mapping[str, Any], taxonomy: Taxonomy | None
) -> dict[str, Any]:
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"资料字段“{name}”不能修改", field=name, reason="not_updatable")
    out = dict(changes)
    if "status" in out:
        out["status"] = check_document_status(out["status"])
    if "document_type" in out:
        out["document_type"] = check_document_type(
            out["document_type"], taxonomy or load_taxonomy()
        )
    if "fields" in out:
        out["fields"] = check_json_fields(out["fields"])
    if "review_reasons" in out:
        out["review_reasons"] = check_reasons(out["review_reasons"])
    for name in ("claimed_at", "reviewed_at"):
        value = out.get(name)
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            raise ValidationError(f"{name} 应为带时区的时间", field=name, reason="datetime")
    _check_document_refs(session, out)
    return out


def update_document(
    session: Session,
    *,
    document_id: int,
    changes: Mapping[str, Any],
    actor: str,
    action: str = "document.update",
    detail: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> Document:
    """Change some columns of a document (see ``UPDATABLE_FIELDS``), audited as ``action``.

    Status transitions are not checked here; the review workflow in ``archive`` owns them.
    Changing ``review_reasons`` also sets the derived ``is_anomaly``.

    Raises:
        NotFoundError: No such document.
        ValidationError: An unknown or non-updatable column, or an invalid value.
    """
    document = get_document(session, document_id=document_id)
    if document is None:
        raise NotFoundError(f"资料 {document_id} 不存在", document_id=document_id)
    values = _clean_document_changes(session, changes, taxonomy)
    if "review_reasons" in values:  # the derived column follows its source
        values["is_anomaly"] = has_anomaly(values["review_reasons"])
    changed = [n for n, v in values.items() if getattr(document, n) != v]
    if not changed:
        return document
    before = snapshot(document, changed)
    old_fields = dict(document.fields or {})
    with atomic(session):
        for name in changed:
            setattr(document, name, values[name])
        document.updated_at = utcnow()
        session.add(document)
        session.flush()
        after = snapshot(document, changed)
        if "fields" in changed and (diff := field_changes(old_fields, document.fields)):
            before["fields"], after["fields"] = diff  # old -> new values, not just names
        add_audit_event(
            session,
            actor=actor,
            action=action,
            entity_type="document",
            entity_id=document_id,
            before=before,
            after=after,
            detail=detail,
        )
    return document


def document_versions(session: Session, *, document_id: int) -> list[Document]:
    """The version chain through a document, newest first (follows ``supersedes_id`` both ways).

    Raises:
        NotFoundError: No such document.
    """
    document = get_document(session, document_id=document_id)
    if document is None:
        raise NotFoundError(f"资料 {document_id} 不存在", document_id=document_id)
    newest = document
    seen = {document.id}
    while True:
        newer = session.exec(
            select(Document).where(Document.supersedes_id == newest.id).order_by(col(Document.id))
        ).first()
        if newer is None or newer.id in seen:
            break
        seen.add(newer.id)
        newest = newer
    chain = [newest]
    while chain[-1].supersedes_id is not None and chain[-1].supersedes_id not in {
        d.id for d in chain
    }:
        older = session.get(Document, chain[-1].supersedes_id)
        if older is None:
            break
        chain.append(older)
    return chain
