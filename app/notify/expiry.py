"""Expiry notices: each license, ID or contract reaching a notice threshold (30, 7 and 0 days by
default) is announced once per channel and recipient (:func:`app.notify.dispatch.deliver`).

The events are :func:`archive.expiry_events.expiry_events` at the lead days in effect
(:func:`app.notify.config.notify_config`); each goes to the webhook, to every
``notify_email_to`` address and to the people chosen for it (by default the customer's owner,
负责人, when they have an e-mail address). The webhook's ``X-Dossier-Event`` (the event key)
lets a receiver drop a repeat after a crash between delivering and recording.
"""

from __future__ import annotations

from datetime import datetime

from app.context import AppContext
from app.notify.config import notify_config, recipients_for
from app.notify.dispatch import SIGNATURE, Notice, NotifyReport, deliver
from archive.expiry_events import ExpiryEvent, expiry_events
from models import repo
from models.document import Document


def expiry_notices(ctx: AppContext, *, now: datetime | None = None) -> list[Notice]:
    """The current expiry events as notices, soonest first."""
    settings = ctx.settings
    notices = []
    with ctx.session() as session:
        config = notify_config(session, settings)
        thresholds = list(config.expiry_days) if config.on("expiry") else []
        for event in expiry_events(session, thresholds=thresholds, now=now):
            code = event.customer_code
            customer = repo.get_customer(session, code=code) if code else None
            document = session.get(Document, event.document_id)
            people = recipients_for(
                session, config, "expiry", customer=customer,
                submitted_by=document.submitted_by if document else None,
            )  # fmt: skip
            subject, body = expiry_text(ctx, event)
            notices.append(
                Notice(
                    key=event.key,
                    kind="expiry",
                    subject=subject,
                    body=body,
                    payload=event.as_dict(),
                    recipients=(*settings.notify_email_to, *people),
                    document_id=event.document_id,
                )
            )
    return notices


def notify_expiring(ctx: AppContext, *, now: datetime | None = None) -> NotifyReport:
    """Announce the current expiry events not yet announced (see the module)."""
    return deliver(ctx, expiry_notices(ctx, now=now), now=now)


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
        f"{SIGNATURE}（本提醒每个期限只发送一次）\n"
    )
    return subject, body


__all__ = ["expiry_notices", "expiry_text", "notify_expiring"]
