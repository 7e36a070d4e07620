"""The notification settings row (``models.notification_setting``): read it, save it (audited).

:func:`save_notification_setting` writes the row and one audit event
(``notification.configure``, entity ``notification`` ``settings``) with the changed values
before and after, in the same transaction; the webhook address appears masked in the audit
(it may carry a token in its path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session

from models.db import utcnow
from models.notification_setting import SETTINGS_ROW_ID, NotificationSetting
from models.repo.audit import add_audit_event

FIELDS = ("events", "expiry_days", "checklist_days", "quiet_hours", "digest", "recipients",
          "webhook_url")  # fmt: skip


def masked_url(url: str) -> str:
    """A webhook address as shown to people: scheme and host, the rest hidden."""
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{'/…' if parts.path.strip('/') else ''}"


def get_notification_setting(session: Session) -> NotificationSetting | None:
    """The saved settings, or None while the environment's are in effect."""
    return session.get(NotificationSetting, SETTINGS_ROW_ID)


def save_notification_setting(
    session: Session, *, current: Mapping[str, Any], values: Mapping[str, Any], actor: str
) -> list[str]:
    """Save ``values`` (every key of :data:`FIELDS`, already checked) over ``current`` (the
    settings in effect); audit what changed. Flushes; the caller commits.

    Returns:
        The names of the fields that changed (empty: nothing written).
    """
    changed = [f for f in FIELDS if values[f] != current.get(f)]
    if not changed:
        return []
    row = get_notification_setting(session) or NotificationSetting(
        id=SETTINGS_ROW_ID, updated_by=actor
    )
    for name in FIELDS:
        setattr(row, name, values[name])
    row.updated_by, row.updated_at = actor, utcnow()
    session.add(row)
    session.flush()

    def shown(source: Mapping[str, Any]) -> dict[str, Any]:
        out = {f: source.get(f) for f in changed}
        if "webhook_url" in out:
            out["webhook_url"] = masked_url(str(out["webhook_url"] or ""))
        return out

    add_audit_event(
        session,
        actor=actor,
        action="notification.configure",
        entity_type="notification",
        entity_id="settings",
        before=shown(current),
        after=shown(values),
    )
    return changed
