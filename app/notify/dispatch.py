"""The one delivery path of every notification: quiet hours, never twice, digest, record.

A :class:`Notice` is one event (an expiry, a rejection, a quarantined file, a critical
integrity finding, an incomplete checklist) with its Chinese subject and body, the JSON the
webhook gets, and the e-mail addresses of the people it concerns. :func:`deliver` sends each
notice once per channel and recipient: the webhook (``webhook_url``) gets every notice, each
address gets its notices by e-mail (when ``smtp_host`` is set), one per notice or, with the
digest on, one e-mail per recipient and run. Events switched off, the quiet hours, the digest and
the webhook address come from :func:`app.notify.config.notify_config` (the web page's settings,
else the environment's). What ``notification_sent`` already holds is
skipped; a delivery is recorded (and audited, ``notification.send``) in its own transaction
after it succeeded; a failed one is reported and goes out on the next run. Inside
the quiet hours (China time) nothing is sent: the notices wait for the first run after
the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.context import AppContext
from app.errors import NotificationError
from app.notify.config import NotifyConfig, notify_config
from app.notify.senders import post_webhook, send_email
from config.clock import in_quiet_hours
from models import repo

SIGNATURE = "—— dossier 客户资料库"
#: What each event is called, by the first part of its key (``expiry:…``, ``rejected:…``).
EVENT_LABELS = {
    "expiry": "到期提醒",
    "rejected": "资料被驳回",
    "quarantine": "文件被隔离",
    "integrity": "完整性严重问题",
    "checklist": "资料清单未齐",
}
CHANNEL_LABELS = {"email": "邮件", "webhook": "Webhook"}


def event_label(event_key: str) -> str:
    """The Chinese name of the event a key belongs to."""
    return EVENT_LABELS.get(event_key.partition(":")[0], "通知")


@dataclass(frozen=True)
class Notice:
    """One event to announce (its ``key`` makes it unique)."""

    key: str
    kind: str  # expiry, rejected, quarantined, integrity, checklist
    subject: str
    body: str
    payload: dict[str, Any]
    recipients: tuple[str, ...] = ()  # e-mail addresses
    document_id: int | None = None


@dataclass
class NotifyReport:
    """What a notification run did."""

    events: int = 0
    sent: list[dict[str, object]] = field(default_factory=list)
    already_sent: int = 0
    failed: list[dict[str, object]] = field(default_factory=list)
    quiet_hours: bool = False  # inside notify_quiet_hours: nothing sent, all waits

    def as_dict(self) -> dict[str, object]:
        return {
            "events": self.events,
            "quiet_hours": self.quiet_hours,
            "sent": self.sent,
            "already_sent": self.already_sent,
            "failed": self.failed,
        }


def deliver(
    ctx: AppContext,
    notices: list[Notice],
    *,
    now: datetime | None = None,
    config: NotifyConfig | None = None,
) -> NotifyReport:
    """Send the notices of the events switched on and not yet sent (see the module)."""
    if config is None:
        with ctx.session() as session:
            config = notify_config(session, ctx.settings)
    notices = [n for n in notices if config.on(n.kind)]
    report = NotifyReport(events=len(notices))
    if in_quiet_hours(config.quiet_hours, now):
        report.quiet_hours = True
        return report
    if url := config.webhook_url:
        for notice in _pending(ctx, notices, "webhook", url, report):
            _send(ctx, [notice], "webhook", url, report)
    if ctx.settings.smtp_host:
        for recipient, theirs in _by_recipient(notices).items():
            pending = _pending(ctx, theirs, "email", recipient, report)
            digest = config.digest and len(pending) > 1
            for batch in [pending] if digest else [[n] for n in pending]:
                _send(ctx, batch, "email", recipient, report)
    return report


def _by_recipient(notices: Iterable[Notice]) -> dict[str, list[Notice]]:
    out: dict[str, list[Notice]] = {}
    for notice in notices:
        for address in dict.fromkeys(notice.recipients):
            out.setdefault(address, []).append(notice)
    return out


def _pending(
    ctx: AppContext, notices: list[Notice], channel: str, recipient: str, report: NotifyReport
) -> list[Notice]:
    """The notices not yet sent to this recipient over this channel."""
    pending = []
    with ctx.session() as session:
        for notice in notices:
            if repo.notification_sent(
                session, event_key=notice.key, channel=channel, recipient=recipient
            ):
                report.already_sent += 1
            else:
                pending.append(notice)
    return pending


def _send(
    ctx: AppContext, notices: list[Notice], channel: str, recipient: str, report: NotifyReport
) -> None:
    """Deliver, then record every notice it carried (one transaction); a failure is reported."""
    entries: list[dict[str, object]] = [{"event": n.key, "channel": channel} for n in notices]
    try:
        subject = _deliver(ctx, notices, channel, recipient)
    except NotificationError as e:
        report.failed += [{**entry, "error": e.message} for entry in entries]
        return
    with ctx.session() as session:
        for notice in notices:
            repo.record_notification(
                session,
                event_key=notice.key,
                channel=channel,
                recipient=recipient,
                document_id=notice.document_id,
                subject=notice.subject if len(notices) == 1 else f"{subject}：{notice.subject}",
            )
    report.sent += entries


def _deliver(ctx: AppContext, notices: list[Notice], channel: str, recipient: str) -> str:
    """Send over one channel; the subject that went out."""
    if channel == "webhook":
        [notice] = notices
        post_webhook(ctx.settings, notice.payload, event_key=notice.key, url=recipient)
        return notice.subject
    if len(notices) == 1:
        subject, body = notices[0].subject, notices[0].body
    else:
        subject, body = digest_text(notices)
    send_email(ctx.settings, to=recipient, subject=subject, body=body)
    return subject


def digest_text(notices: list[Notice]) -> tuple[str, str]:
    """One e-mail listing several notices (``notify_digest``), in the order given."""
    lines = [n.subject.split("】", 1)[-1] for n in notices]
    if all(n.kind == "expiry" for n in notices):
        subject = f"【资料到期提醒】{len(notices)} 份资料即将到期或已过期"
        closing = "请联系客户提供新的证件或执照，并上传到资料库。"
    else:
        subject = f"【资料库通知】{len(notices)} 条通知"
        closing = "详情请登录资料库查看（“通知”页面列出已发送的全部通知）。"
    body = "\n".join(f"{n}. {line}" for n, line in enumerate(lines, start=1))
    return subject, f"{body}\n\n{closing}\n\n{SIGNATURE}\n"


__all__ = [
    "CHANNEL_LABELS",
    "EVENT_LABELS",
    "Notice",
    "NotifyReport",
    "deliver",
    "digest_text",
    "event_label",
]
