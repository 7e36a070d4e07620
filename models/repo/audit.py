"""Audit events: appended in the same transaction as the change they record, never changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models.audit import SYSTEM_ACTOR, AuditEvent
from models.db import utcnow


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


def add_audit_events(session: Session, events: Sequence[Mapping[str, Any]]) -> None:
    """Append many audit events in one multi-row INSERT (a bulk import); each mapping holds
    the keyword arguments of :func:`add_audit_event`."""
    at = utcnow()
    rows = [
        {
            "at": at,
            "actor": e["actor"] or SYSTEM_ACTOR,
            "action": e["action"],
            "entity_type": e["entity_type"],
            "entity_id": str(e["entity_id"]),
            "before": dict(e["before"]) if e.get("before") is not None else None,
            "after": dict(e["after"]) if e.get("after") is not None else None,
            "detail": e.get("detail"),
        }
        for e in events
    ]
    if rows:
        session.execute(sa.insert(AuditEvent.__table__), rows)  # type: ignore[attr-defined]


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
