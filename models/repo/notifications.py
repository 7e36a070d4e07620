"""Notifications sent: whether one went out, recording one that did (audited), listing them.

Every delivered notification is one ``notification_sent`` row and one audit event
(``notification.send``, entity ``notification`` with the row's id, the subject as detail), in
the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, func, select

from models.audit import SYSTEM_ACTOR, AuditEvent
from models.notification import NotificationSent
from models.repo.audit import add_audit_event


def notification_sent(session: Session, *, event_key: str, channel: str, recipient: str) -> bool:
    """Whether this event already went to this recipient over this channel."""
    row = session.exec(
        select(NotificationSent.id).where(
            NotificationSent.event_key == event_key,
            NotificationSent.channel == channel,
            NotificationSent.recipient == recipient,
        )
    ).first()
    return row is not None


def record_notification(
    session: Session,
    *,
    event_key: str,
    channel: str,
    recipient: str,
    document_id: int | None = None,
    subject: str | None = None,
) -> NotificationSent:
    """Record a delivered notification and audit it (flushes; the caller commits)."""
    row = NotificationSent(
        event_key=event_key, channel=channel, recipient=recipient, document_id=document_id
    )
    session.add(row)
    session.flush()
    add_audit_event(
        session,
        actor=SYSTEM_ACTOR,
        action="notification.send",
        entity_type="notification",
        entity_id=str(row.id),
        after={
            "event": event_key,
            "channel": channel,
            "recipient": recipient,
            "document_id": document_id,
        },
        detail=subject,
    )
    return row


def list_notifications(
    session: Session,
    *,
    recipients: Collection[str] | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[NotificationSent], int]:
    """Sent notifications, newest first, and how many there are in all.

    ``recipients``: only those sent to one of these (e-mail addresses compared without case);
    None: all of them.
    """
    query = select(NotificationSent)
    count = select(func.count()).select_from(NotificationSent)
    if recipients is not None:
        wanted = [r.lower() for r in recipients]
        if not wanted:
            return [], 0
        where = func.lower(NotificationSent.recipient).in_(wanted)
        query, count = query.where(where), count.where(where)
    order = (col(NotificationSent.sent_at).desc(), col(NotificationSent.id).desc())
    rows = session.exec(query.order_by(*order).offset(offset).limit(limit)).all()
    return list(rows), int(session.exec(count).one())


def notification_subjects(session: Session, *, ids: Collection[int]) -> dict[int, str]:
    """The subject each notification went out with (its audit event's detail)."""
    if not ids:
        return {}
    rows = session.exec(
        select(AuditEvent.entity_id, AuditEvent.detail).where(
            AuditEvent.entity_type == "notification",
            AuditEvent.action == "notification.send",
            col(AuditEvent.entity_id).in_([str(i) for i in ids]),
        )
    ).all()
    return {int(entity): detail or "" for entity, detail in rows}


__all__ = [
    "list_notifications",
    "notification_sent",
    "notification_subjects",
    "record_notification",
]
