"""The Prefect flow ``notify-expiry``: a thin wrapper over :func:`app.notify.notify_expiring`."""

from __future__ import annotations

from prefect import flow

from app.context import app_context
from app.notify import notify_expiring


@flow(name="notify-expiry", description="Send the expiry reminders not yet sent.")
def notify_expiry() -> dict[str, object]:
    return notify_expiring(app_context()).as_dict()
