"""Notifications sent (issue 13, item 3): one row per event, channel and recipient delivered.

A row is written only after the delivery succeeded, and the triple (``event_key``, ``channel``,
``recipient``) is unique, so a notification is never sent twice for the same event; one that
failed is not recorded and goes out on the next run.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow


class NotificationSent(SQLModel, table=True):
    """One delivered notification."""

    __tablename__ = "notification_sent"
    __table_args__ = (
        sa.UniqueConstraint("event_key", "channel", "recipient", name="uq_notification_sent_event"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=200)  # e.g. expiry:<document id>:<valid until>:<days>
    channel: str = Field(max_length=20)  # email, webhook
    recipient: str = Field(max_length=300)  # an address or the webhook URL
    document_id: int | None = Field(default=None, index=True)
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
