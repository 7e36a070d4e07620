"""Delivering one notification: by e-mail (``smtplib``) or by webhook (JSON, HMAC-signed).

Webhook requests carry ``X-Dossier-Timestamp`` and ``X-Dossier-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``<timestamp>.<body>`` under the secret (:func:`webhook_signature`), and
``X-Dossier-Event`` (the event key, for the receiver to drop repeats). A timeout, a connection
failure, 408, 429 or a 5xx answer is retried with exponential back-off; another 4xx is final.
Secrets and passwords never appear in errors or logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from app.errors import NotificationError
from config import Settings

log = logging.getLogger("dossier.notify")

BACKOFF_SECONDS = 0.5  # then 1, 2, 4, ... (capped at 30)
_RETRIED_STATUSES = {408, 429}


def send_email(settings: Settings, *, to: str, subject: str, body: str) -> None:
    """Send one plain-text e-mail through the configured SMTP server.

    Raises:
        NotificationError: The server refused it or could not be reached.
    """
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="dossier")
    msg.set_content(body)
    timeout = settings.notify_timeout_seconds
    try:
        if settings.smtp_tls == "tls":
            context = ssl.create_default_context()
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, _secret(settings.smtp_password_env) or "")
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as e:
        raise NotificationError(
            f"邮件发送失败（{settings.smtp_host}:{settings.smtp_port}，{type(e).__name__}）",
            channel="email",
        ) from e


def webhook_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def post_webhook(
    settings: Settings,
    payload: dict[str, object],
    *,
    event_key: str,
    url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``payload`` as JSON to the webhook (``url``, default ``webhook_url``), retrying;
    the number of attempts it took.

    Raises:
        NotificationError: Still failing after ``webhook_attempts``, or a final 4xx answer.
    """
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    secret = _secret(settings.webhook_secret_env)
    last = ""
    for attempt in range(1, settings.webhook_attempts + 1):
        if attempt > 1:
            sleep(min(30.0, BACKOFF_SECONDS * 2 ** (attempt - 2)))
        request = _webhook_request(url or settings.webhook_url, body, event_key, secret)
        try:
            with urllib.request.urlopen(request, timeout=settings.notify_timeout_seconds):
                return attempt
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
            if 400 <= e.code < 500 and e.code not in _RETRIED_STATUSES:
                break
        except (urllib.error.URLError, OSError) as e:
            last = type(getattr(e, "reason", e)).__name__
        log.info("webhook attempt %d for %s failed: %s", attempt, event_key, last)
    raise NotificationError(f"Webhook 发送失败（{last}）", channel="webhook")


def _webhook_request(
    url: str, body: bytes, event_key: str, secret: str | None
) -> urllib.request.Request:
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "dossier-notify",
        "X-Dossier-Event": event_key,
        "X-Dossier-Timestamp": timestamp,
    }
    if secret:
        headers["X-Dossier-Signature"] = webhook_signature(secret.encode(), timestamp, body)
    return urllib.request.Request(url, data=body, headers=headers, method="POST")


def _secret(variable: str | None) -> str | None:
    return os.environ.get(variable) if variable else None


__all__ = ["BACKOFF_SECONDS", "post_webhook", "send_email", "webhook_signature"]
