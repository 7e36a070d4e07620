"""Notifications sent: whether one went out, and recording one that did.

Operational state like web sessions: not audited (the notification itself is the trace).
"""

from __future__ import annotations

from sqlmodel import Session, select

from models.notification import NotificationSent


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
) -> NotificationSent:
    """Record a delivered notification (flushes; the caller commits)."""
    row = NotificationSent(
        event_key=event_key, channel=channel, recipient=recipient, document_id=document_id
    )
    session.add(row)
    session.flush()
    return row


__all__ = ["notification_sent", "record_notification"]
