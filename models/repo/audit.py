"""Audit events: appended in the same transaction as the change they record, never changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from models.audit import SYSTEM_ACTOR, AuditEvent


def add_audit_event(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Append one audit event (flushed, not committed).

    Args:
        session: The session whose transaction the event joins.
        actor: A username, or ``"system"`` for automatic changes.
        action: What happened, e.g. ``"customer.create"``.
        entity_type: ``"customer"``, ``"document"``, ``"user"``, ...
        entity_id: The entity's id or code.
        before: Changed fields before the change (JSON-serializable).
        after: Changed fields after the change.
        detail: Free text for people.

    Returns:
        The new event.
    """
    event = AuditEvent(
        actor=actor or SYSTEM_ACTOR,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        detail=detail,
    )
    session.add(event)
    session.flush()
    return event


def list_audit_events(
    session: Session,
    *,
    entity_type: str | None = None,
    entity_id: str | int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Audit events, oldest first, optionally for one entity."""
    query = select(AuditEvent)
    if entity_type is not None:
        query = query.where(AuditEvent.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == str(entity_id))
    return list(session.exec(query.order_by(col(AuditEvent.id)).limit(limit)).all())
