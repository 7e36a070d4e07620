"""The Prefect flow ``mail-intake``: a thin wrapper over :func:`ingest.mailbox.fetch_all`.

Served every ``mail_interval_seconds`` (flows/serve.py): new messages of the configured
mailboxes are read, their attachments handed in to the intake, and only then marked.
"""

from __future__ import annotations

from prefect import flow

from app.context import app_context
from app.intake_drop import mail_drop
from ingest.mailbox import fetch_all


@flow(name="mail-intake", description="Hand the attachments of new e-mail in to the intake.")
def fetch_mail() -> list[dict[str, object]]:
    settings = app_context(check_schema=False).settings
    settings.ensure_dirs()
    return [report.as_dict() for report in fetch_all(settings, drop=mail_drop(settings))]
