"""Notification settings as an admin saved them on the web (``/notifications``): one row.

Until an admin saves, there is no row and the environment's settings (``expiry_notice_days``,
``notify_quiet_hours``, ``notify_digest``, ``checklist_notice_days``, ``webhook_url``) are in
effect (:func:`app.notify.config.notify_config`); from then on this row is. Kept in the database
like the option lists: the change and its audit event commit together and every process (web,
the notification flow on any worker) reads the same values. The webhook's signing key and the
SMTP server stay in the environment (secrets are never stored here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow

SETTINGS_ROW_ID = 1


class NotificationSetting(SQLModel, table=True):
    """The saved notification settings (always the row ``id = 1``).

    Attributes:
        events: The kinds announced (``expiry``, ``rejected``, ``quarantined``, ``integrity``,
            ``checklist``); a kind not listed is off.
        expiry_days: Lead days of expiry reminders, e.g. ``[30, 7, 0]``.
        checklist_days: Days after a customer is created before an incomplete checklist is
            announced (0: never).
        quiet_hours: ``HH:MM-HH:MM`` China time, or None.
        digest: One e-mail per recipient and run.
        recipients: Per kind, who gets it: ``owner``, ``submitter``, ``role:<role>``.
        webhook_url: Where the webhook posts ("" : no webhook).
    """

    __tablename__ = "notification_setting"

    id: int | None = Field(default=None, primary_key=True)
    events: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    expiry_days: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    checklist_days: int = Field(default=0)
    quiet_hours: str | None = Field(default=None, max_length=11)
    digest: bool = Field(default=False)
    recipients: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    webhook_url: str = Field(default="", max_length=1000)
    updated_by: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
