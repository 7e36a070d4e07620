"""Expiry notifications: each license, ID or contract reaching a notice threshold (30, 7 and
0 days by default) is announced once per channel and recipient.

For every event (:func:`archive.expiry_events.expiry_events`) and every configured channel
(each ``notify_email_to`` address when ``smtp_host`` is set; ``webhook_url``), unless
``notification_sent`` already holds it: deliver, then record it in its own transaction. A
delivery that fails is reported and not recorded, so the next run tries again; a crash between
delivering and recording can repeat that one notification (the webhook's ``X-Dossier-Event``
lets a receiver drop it). Inside ``notify_quiet_hours`` (China time) nothing is sent: the
events wait for the first run after the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.context import AppContext
from app.errors import NotificationError
from app.notify.senders import post_webhook, send_email
from archive.expiry_events import ExpiryEvent, expiry_events
from config.clock import in_quiet_hours
from models import repo


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


def notify_expiring(ctx: AppContext, *, now: datetime | None = None) -> NotifyReport:
    """Announce the current expiry events not yet announced (see the module)."""
    settings = ctx.settings
    with ctx.session() as session:
        events = expiry_events(session, thresholds=settings.expiry_notice_days, now=now)
    report = NotifyReport(events=len(events))
    if in_quiet_hours(settings.notify_quiet_hours, now):
        report.quiet_hours = True
        return report
    channels = [("webhook", settings.webhook_url)] if settings.webhook_url else []
    if settings.smtp_host:
        channels += [("email", address) for address in settings.notify_email_to]
    for channel, recipient in channels:
        pending = _pending(ctx, events, channel, recipient, report)
        digest = channel == "email" and settings.notify_digest
        for batch in [pending] if digest and pending else [[e] for e in pending]:
            _send(ctx, batch, channel, recipient, report)
    return report


def _pending(
    ctx: AppContext, events: list[ExpiryEvent], channel: str, recipient: str, report: NotifyReport
) -> list[ExpiryEvent]:
    """The events not yet sent to this recipient over this channel."""
    pending = []
    with ctx.session() as session:
        for event in events:
            if repo.notification_sent(
                session, event_key=event.key, channel=channel, recipient=recipient
            ):
                report.already_sent += 1
            else:
                pending.append(event)
    return pending


def _send(
    ctx: AppContext,
    events: list[ExpiryEvent],
    channel: str,
    recipient: str,
    report: NotifyReport,
) -> None:
    """Deliver, then record every event it carried (one transaction); a failure is reported."""
    entries: list[dict[str, object]] = [{"event": e.key, "channel": channel} for e in events]
    try:
        _deliver(ctx, events, channel, recipient)
    except NotificationError as e:
        report.failed += [{**entry, "error": e.message} for entry in entries]
        return
    with ctx.session() as session:
        for event in events:
            repo.record_notification(
                session,
                event_key=event.key,
                channel=channel,
                recipient=recipient,
                document_id=event.document_id,
            )
    report.sent += entries


def _deliver(ctx: AppContext, events: list[ExpiryEvent], channel: str, recipient: str) -> None:
    if channel == "webhook":
        [event] = events
        post_webhook(ctx.settings, event.as_dict(), event_key=event.key)
        return
    subject, body = expiry_text(ctx, events[0]) if len(events) == 1 else digest_text(ctx, events)
    send_email(ctx.settings, to=recipient, subject=subject, body=body)


def expiry_text(ctx: AppContext, event: ExpiryEvent) -> tuple[str, str]:
    """The e-mail's subject and body, in Chinese."""
    label = ctx.taxonomy.document_type(event.document_type).label
    who = (
        f"客户 {event.customer_name}（{event.customer_code}）"
        if event.customer_code
        else "未关联客户"
    )
    if event.days_left > 0:
        when = f"将于 {event.valid_until} 到期（还剩 {event.days_left} 天）"
    elif event.days_left == 0:
        when = f"今天（{event.valid_until}）到期"
    else:
        when = f"已于 {event.valid_until} 过期（{-event.days_left} 天前）"
    subject = f"【资料到期提醒】{who}的{label}{when}"
    body = (
        f"{who}的{label}（资料 #{event.document_id}）{when}。\n"
        "请联系客户提供新的证件或执照，并上传到资料库。\n\n"
        "—— dossier 客户资料库（本提醒每个期限只发送一次）\n"
    )
    return subject, body


def digest_text(ctx: AppContext, events: list[ExpiryEvent]) -> tuple[str, str]:
    """One e-mail listing several events (``notify_digest``), soonest first."""
    lines = [expiry_text(ctx, e)[0].removeprefix("【资料到期提醒】") for e in events]
    subject = f"【资料到期提醒】{len(events)} 份资料即将到期或已过期"
    body = "\n".join(f"{n}. {line}" for n, line in enumerate(lines, start=1))
    body += "\n\n请联系客户提供新的证件或执照，并上传到资料库。\n\n—— dossier 客户资料库\n"
    return subject, body


__all__ = ["NotifyReport", "digest_text", "expiry_text", "notify_expiring"]
