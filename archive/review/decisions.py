"""Reviewer decisions: correct, relink, approve, reject, refile (and superseding old versions).

Every decision runs in :func:`archive.review.claims.decision` (checks, then commit, or roll back
on any error) and COMMITS the session it is given: an object move must commit the database
before the old key is deleted. Pass a session without unrelated pending work. Every action
appends an audit event with before/after values (through ``models.repo``).

A change of customer, type or submitted date changes the objects' keys: they are moved by
:func:`archive.placement.move_objects` (copy -> verify -> commit -> delete the old key; see
there for what a crash leaves behind). :func:`refile` moves a document to the keys its current
data call for (e.g. after a customer was renamed).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from archive.errors import InvalidTransitionError
from archive.permissions import can_view_customer
from archive.placement import ObjectMove, move_objects, plan_moves
from archive.review.claims import CLEAR_CLAIM, decision, load_for_update, transaction
from archive.review.transitions import ARCHIVED, LINK_REASONS, SUPERSEDED, UPDATING, next_status
from archive.storage.base import ObjectStore
from config.taxonomy import Taxonomy
from models import repo
from models.customer import Customer
from models.db import utcnow
from models.document import Document, check_document_type
from models.repo import NotFoundError
from models.user import User
from models.validation import ValidationError, validate_date


def _update_with_moves(
    session: Session,
    store: ObjectStore,
    *,
    document: Document,
    changes: dict[str, Any],
    taxonomy: Taxonomy,
    actor: str,
    action: str,
    detail: str | None = None,
) -> tuple[Document, list[ObjectMove]]:
    """Write ``changes`` and move the objects to the keys the changed document calls for."""
    customer_id = changes.get("customer_id", document.customer_id)
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    moves = plan_moves(
        session,
        store,
        document=document,
        taxonomy=taxonomy,
        customer=customer,
        document_type=changes.get("document_type", document.document_type),
        submitted=changes.get("submitted_date", document.submitted_date),
    )

    def record(keys: dict[str, str]) -> Document:
        return repo.update_document(
            session,
            document_id=document.id or 0,
            changes={**changes, **keys},
            actor=actor,
            action=action,
            detail=detail,
            taxonomy=taxonomy,
        )

    return move_objects(session, store, moves, record=record), moves


def _corrected_field(old: Any, value: Any, actor: str) -> dict[str, Any]:
    text = None if value is None else unicodedata.normalize("NFC", str(value)).strip() or None
    base = dict(old) if isinstance(old, Mapping) else {"page": None}
    base.update({"value": text, "confidence": None, "reason": None, "corrected_by": actor})
    return base


def _field_changes(
    document: Document, fields: Mapping[str, Any] | None, actor: str
) -> dict[str, Any]:
    if not fields:
        return {}
    merged = dict(document.fields or {})
    for name, value in fields.items():
        if not isinstance(name, str) or not name or name.startswith("_"):
            raise ValidationError(f"字段名“{name}”无效", field="fields", reason="field_name")
        merged[name] = _corrected_field(merged.get(name), value, actor)
    return {"fields": merged}


def correct(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    user: User,
    taxonomy: Taxonomy,
    fields: Mapping[str, Any] | None = None,
    document_type: str | None = None,
    submitted_date: date | str | None = None,
    now: datetime | None = None,
) -> Document:
    """Correct extracted fields, the document type or the submitted date (commits).

    The status does not change (approve afterwards, or use ``approve(corrections=...)``).
    A corrected field becomes ``{"value": ..., "confidence": None, "reason": None,
    "corrected_by": user}`` (its page is kept). A new type or date moves the objects to their
    new keys (see the module docstring for the crash-safe order).

    Args:
        session: Open session (committed).
        store: The object store holding the document's objects.
        document_id: The document.
        user: The reviewer (role reviewer or admin).
        taxonomy: Types, labels and naming templates.
        fields: ``{field_name: new value or None}``; other fields are kept.
        document_type: New type code (a Chinese label is accepted).
        submitted_date: New submitted date (``date`` or ``YYYY-MM-DD``).
        now: The current time.

    Raises:
        PermissionDeniedError, NotFoundError, InvalidTransitionError, ClaimConflictError,
        ValidationError: As the names say; nothing is changed.
        StorageError: A copy failed or did not verify; nothing is changed.
    """
    now = now or utcnow()
    with decision(session, document_id, user, action="correct", now=now) as document:
        changes = _field_changes(document, fields, user.username)
        if document_type is not None:
            changes["document_type"] = check_document_type(document_type, taxonomy)
        if submitted_date is not None:
            changes["submitted_date"] = validate_date(submitted_date, "submitted_date")
        updated, _ = _update_with_moves(
            session,
            store,
            document=document,
            changes=changes,
            taxonomy=taxonomy,
            actor=user.username,
            action="document.correct",
        )
    return updated


def _version_changes(session: Session, document: Document, customer: Customer) -> dict[str, Any]:
    if document.supersedes_id is not None:
        return {}
    current = repo.current_document_of_type(
        session, customer_id=customer.id or 0, document_type=document.document_type
    )
    if current is None or current.id == document.id:
        return {}
    return {"supersedes_id": current.id}


def _relink_changes(session: Session, document: Document, customer: Customer) -> dict[str, Any]:
    reasons = [r for r in document.review_reasons or [] if r not in LINK_REASONS]
    changes: dict[str, Any] = {"customer_id": customer.id}
    if customer.id != document.customer_id:
        changes.update(_version_changes(session, document, customer))
    if "supersedes_id" in changes and "new_version" not in reasons:
        reasons.append("new_version")
    changes["review_reasons"] = reasons
    return changes


def relink(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    customer_code: str,
    user: User,
    taxonomy: Taxonomy,
    now: datetime | None = None,
) -> Document:
    """Link a document to another (or its first) customer and move its objects (commits).

    The reasons ``unlinked`` and ``ambiguous_customer`` are dropped. When the customer already
    has a document of this type in effect, this one becomes its new version
    (``supersedes_id``, reason ``new_version``); the old one is superseded on approval.

    Raises:
        PermissionDeniedError, InvalidTransitionError, ClaimConflictError: As the names say.
        NotFoundError: No such document or customer (or not visible to the user).
        StorageError: A copy failed or did not verify; nothing is changed.
    """
    now = now or utcnow()
    with decision(session, document_id, user, action="relink", now=now) as document:
        customer = repo.get_customer(session, code=customer_code)
        if customer is None or not can_view_customer(user, customer):
            raise NotFoundError(f"客户 {customer_code} 不存在", customer_code=customer_code)
        updated, _ = _update_with_moves(
            session,
            store,
            document=document,
            changes=_relink_changes(session, document, customer),
            taxonomy=taxonomy,
            actor=user.username,
            action="document.relink",
            detail=f"linked to {customer.code}",
        )
    return updated


def supersede_previous(session: Session, document: Document, actor: str) -> None:
    """Walk the version chain back: every older version still archived or updating is
    superseded (A archived <- B updating <- C approved leaves only C archived)."""
    seen: set[int] = {document.id or 0}
    previous_id = document.supersedes_id
    while previous_id is not None and previous_id not in seen:
        seen.add(previous_id)
        previous = load_for_update(session, previous_id)
        if previous.status in (ARCHIVED, UPDATING):
            repo.update_document(
                session,
                document_id=previous.id or 0,
                changes={"status": SUPERSEDED, **CLEAR_CLAIM},
                actor=actor,
                action="document.supersede",
                detail=f"replaced by document {document.id}",
            )
        previous_id = previous.supersedes_id


def _apply_corrections(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    user: User,
    taxonomy: Taxonomy,
    corrections: Mapping[str, Any],
    now: datetime,
) -> None:
    known = {"fields", "document_type", "submitted_date", "customer_code"}
    unknown = set(corrections) - known
    if unknown:
        raise ValidationError(
            f"无法更正“{sorted(unknown)[0]}”", field=sorted(unknown)[0], reason="not_updatable"
        )
    if corrections.get("customer_code"):
        relink(
            session,
            store,
            document_id=document_id,
            customer_code=corrections["customer_code"],
            user=user,
            taxonomy=taxonomy,
            now=now,
        )
    rest = {k: corrections.get(k) for k in ("fields", "document_type", "submitted_date")}
    if any(v is not None for v in rest.values()):
        correct(
            session, store, document_id=document_id, user=user, taxonomy=taxonomy, now=now, **rest
        )


def _decide(
    session: Session,
    document: Document,
    *,
    user: User,
    action: str,
    now: datetime,
    extra: Mapping[str, Any] | None = None,
    detail: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> Document:
    """Record a reviewer's decision: the status it leads to, who and when; the claim ends."""
    changes = {
        "status": next_status(action, document.status),
        "reviewed_by": user.username,
        "reviewed_at": now,
        **(extra or {}),
        **CLEAR_CLAIM,
    }
    return repo.update_document(
        session,
        document_id=document.id or 0,
        changes=changes,
        actor=user.username,
        action=f"document.{action}",
        detail=detail,
        taxonomy=taxonomy,
    )


def approve(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    user: User,
    taxonomy: Taxonomy,
    corrections: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Document:
    """Approve a document (待审核/更新中 -> 已归档), optionally correcting it first (commits).

    For a new version (``supersedes_id``), the previous version becomes ``superseded`` - on
    approval only, in the same transaction. The claim is cleared; ``reviewed_by``/``reviewed_at``
    are set. A document without a customer cannot be archived (relink it first).

    Args:
        session: Open session (committed).
        store: The object store (used when corrections move objects).
        document_id: The document.
        user: The reviewer (role reviewer or admin).
        taxonomy: Types, labels and naming templates.
        corrections: Applied first (each step commits): ``fields`` (dict),
            ``document_type``, ``submitted_date`` (see :func:`correct`) and ``customer_code``
            (see :func:`relink`).
        now: The current time.

    Raises:
        PermissionDeniedError, NotFoundError, InvalidTransitionError, ClaimConflictError,
        ValidationError, StorageError: As the names say.
    """
    now = now or utcnow()
    if corrections:
        _apply_corrections(
            session,
            store,
            document_id=document_id,
            user=user,
            taxonomy=taxonomy,
            corrections=corrections,
            now=now,
        )
    with decision(session, document_id, user, action="approve", now=now) as document:
        if document.customer_id is None:
            raise InvalidTransitionError(
                "未关联客户的资料不能归档，请先关联客户", action="approve", status=document.status
            )
        supersede_previous(session, document, user.username)
        updated = _decide(
            session, document, user=user, action="approve", now=now, taxonomy=taxonomy
        )
    return updated


def reject(
    session: Session,
    *,
    document_id: int,
    user: User,
    reason: str,
    now: datetime | None = None,
) -> Document:
    """Reject a document with a reason for people (待审核/更新中 -> 已驳回; commits).

    The reason is kept in the audit event's detail and in ``fields["_rejection"]``. The
    objects stay where they are; a rejected version never supersedes anything.

    Raises:
        ValidationError: Empty reason.
        PermissionDeniedError, NotFoundError, InvalidTransitionError, ClaimConflictError:
            As the names say.
    """
    now = now or utcnow()
    text = unicodedata.normalize("NFC", reason or "").strip()
    if not text:
        raise ValidationError("请填写驳回原因", field="reason", reason="required")
    with decision(session, document_id, user, action="reject", now=now) as document:
        fields = {**(document.fields or {}), "_rejection": {"reason": text, "by": user.username}}
        updated = _decide(
            session,
            document,
            user=user,
            action="reject",
            now=now,
            extra={"fields": fields},
            detail=text,
        )
    return updated


def refile(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    taxonomy: Taxonomy,
    actor: str,
) -> list[ObjectMove]:
    """Move a document's objects to the keys its current data call for (commits when moving).

    For any status (e.g. after a customer was renamed, its archived documents are refiled).
    Uses the same copy / verify / commit / delete order as corrections.

    Returns:
        The moves done (empty when every key is already right).

    Raises:
        NotFoundError: No such document.
        StorageError: A copy failed or did not verify; nothing is changed.
    """
    with transaction(session):
        document = load_for_update(session, document_id)
        _, moves = _update_with_moves(
            session,
            store,
            document=document,
            changes={},
            taxonomy=taxonomy,
            actor=actor,
            action="document.refile",
        )
    return moves


__all__ = ["approve", "correct", "refile", "reject", "relink", "supersede_previous"]
