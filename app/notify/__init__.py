"""Notifications (issue 13, item 3): expiry reminders, rejections, quarantined files, critical
integrity findings and incomplete checklists, by e-mail and signed webhook, each recorded and
audited so it is never sent twice (``dispatch``: the one delivery path; ``senders``: SMTP and
webhook; ``expiry`` and ``events``: what is announced, to whom)."""

from app.notify.dispatch import Notice, NotifyReport, deliver
from app.notify.events import event_notices, notify_all
from app.notify.expiry import expiry_notices, notify_expiring
from app.notify.senders import post_webhook, send_email, webhook_signature

__all__ = [
    "Notice",
    "NotifyReport",
    "deliver",
    "event_notices",
    "expiry_notices",
    "notify_all",
    "notify_expiring",
    "post_webhook",
    "send_email",
    "webhook_signature",
]
