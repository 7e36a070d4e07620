"""``/notifications`` (通知): the notifications sent, newest first.

Admins see every notification (e-mail and webhook) and how notifying is set up; everyone else
sees the e-mails sent to their own address (set on the users page or ``users set-email``).
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.notify.dispatch import CHANNEL_LABELS, event_label
from archive.permissions import Action, can
from models import repo
from web.deps import Context, CurrentUser, DbSession
from web.params import MAX_ID
from web.views import render

router = APIRouter()
PAGE_SIZE = 50


@router.get("/notifications")
def notifications_page(
    request: Request, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    admin = can(user, Action.MANAGE_USERS)
    raw = request.query_params.get("page") or "1"
    page = min(max(1, int(raw)), MAX_ID) if raw.isdigit() and len(raw) <= 10 else 1
    mine = None if admin else ([user.email] if user.email else [])
    found, total = repo.list_notifications(
        db, recipients=mine, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    subjects = repo.notification_subjects(db, ids=[r.id for r in found if r.id is not None])
    rows = [
        {
            "at": r.sent_at,
            "kind": event_label(r.event_key),
            "channel": CHANNEL_LABELS.get(r.channel, r.channel),
            "recipient": r.recipient,
            "subject": subjects.get(r.id or 0, ""),
            "document_id": r.document_id,
        }
        for r in found
    ]
    s = ctx.settings
    setup = {
        "email": f"{s.smtp_host}:{s.smtp_port}" if s.smtp_host else None,
        "webhook": bool(s.webhook_url),
        "expiry_days": "、".join(str(d) for d in s.expiry_notice_days),
        "quiet_hours": s.notify_quiet_hours,
        "digest": s.notify_digest,
        "checklist_days": s.checklist_notice_days,
        "lookback_days": s.notify_lookback_days,
        "cron": s.notify_cron,
    }
    return render(
        request, "notifications.html", user=user, rows=rows, total=total, page=page,
        pages=max(1, math.ceil(total / PAGE_SIZE)), admin=admin, setup=setup,
    )  # fmt: skip
