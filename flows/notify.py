"""The Prefect flow ``notify``: a thin wrapper over :func:`app.notify.notify_all` (expiry
reminders and the other events, each sent once)."""

from __future__ import annotations

from prefect import flow

from app.context import app_context
from app.notify import notify_all


@flow(name="notify", description="Send the notifications not yet sent.")
def send_notifications() -> dict[str, object]:
    return notify_all(app_context()).as_dict()
