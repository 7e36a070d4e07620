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
    channels = [("webhook", settings.webhook_url)] if settings.webhook_url else []
    if settings.smtp_host:
        channels += [("email", address) for address in settings.notify_email_to]
    report = NotifyReport(events=len(events))
    if in_quiet_hours(settings.notify_quiet_hours, now):
        report.quiet_hours = True
        return report
    for event in events:
        for channel, recipient in channels:
            with ctx.session() as session:
                done = repo.notification_sent(
                    session, event_key=event.key, channel=channel, recipient=recipient
                )
            if done:
                report.already_sent += 1
                continue
            entry: dict[str, object] = {"event": event.key, "channel": channel}
            try:
                _deliver(ctx, event, channel, recipient)
            except NotificationError as e:
                report.failed.append({**entry, "error": e.message})
                continue
            with ctx.session() as session:
                repo.record_notification(
                    session,
                    event_key=event.key,
                    channel=channel,
                    recipient=recipient,
                    document_id=event.document_id,
                )
            report.sent.append(entry)
    return report


def _deliver(ctx: AppContext, event: ExpiryEvent, channel: str, recipient: str) -> None:
    if channel == "webhook":
        post_webhook(ctx.settings, event.as_dict(), event_key=event.key)
    else:
        subject, body = expiry_text(ctx, event)
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


__all__ = ["NotifyReport", "expiry_text", "notify_expiring"]
