"""Notifications (issue 13, item 3): expiry reminders by e-mail and signed webhook, each
recorded so it is never sent twice (``senders``: SMTP and webhook; ``expiry``: the rule)."""

from app.notify.expiry import NotifyReport, notify_expiring
from app.notify.senders import post_webhook, send_email, webhook_signature

__all__ = ["NotifyReport", "notify_expiring", "post_webhook", "send_email", "webhook_signature"]
