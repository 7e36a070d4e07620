"""``/notifications`` (通知): the notifications sent, newest first, and their settings.

Admins see every notification (e-mail and webhook) and edit the settings
(``POST /notifications/settings``: :func:`app.notify.config.save_form`, audited, the errors
shown beside their field); everyone else sees the e-mails sent to their own address (set on the
users page or ``users set-email``) and no settings.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from app.notify.config import (
    KIND_LABELS,
    KINDS,
    RECIPIENT_CHOICES,
    RECIPIENT_LABELS,
    NotifyConfig,
    notify_config,
    save_form,
)
from app.notify.dispatch import CHANNEL_LABELS, event_label
from archive.permissions import Action, can, require
from models import repo
from models.repo.notification_settings import masked_url
from models.user import User
from web.deps import Context, CurrentUser, DbSession
from web.params import MAX_ID
from web.views import form_change, render

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
    return _render(request, db, user, ctx, admin=admin, page=page, rows=rows, total=total)


def _render(
    request: Request,
    db: Session,
    user: User,
    ctx: Context,
    *,
    admin: bool,
    page: int = 1,
    rows: list[dict[str, object]] | None = None,
    total: int = 0,
    status_code: int = 200,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    s = ctx.settings
    config = notify_config(db, s)
    setup = {
        "email": f"{s.smtp_host}:{s.smtp_port}" if s.smtp_host else None,
        "webhook": masked_url(config.webhook_url),
        "lookback_days": s.notify_lookback_days,
        "cron": s.notify_cron,
        "saved_by": config.saved_by,
        "saved_at": config.saved_at,
    }
    return render(
        request, "notifications.html", status_code=status_code, user=user, rows=rows or [],
        total=total, page=page, pages=max(1, math.ceil(total / PAGE_SIZE)), admin=admin,
        setup=setup, form=form or _form_of(config), errors=errors or {},
        kinds=[(k, KIND_LABELS[k], [(c, RECIPIENT_LABELS[c]) for c in RECIPIENT_CHOICES[k]])
               for k in KINDS],
    )  # fmt: skip


def _form_of(config: NotifyConfig) -> dict[str, Any]:
    """The form's fields as the settings in effect fill them."""
    return {
        **{f"event_{k}": config.on(k) for k in KINDS},
        **{f"recipients_{k}": list(config.recipients.get(k, ())) for k in KINDS},
        "expiry_days": ",".join(str(d) for d in config.expiry_days),
        "checklist_days": str(config.checklist_days),
        "quiet_hours": config.quiet_hours or "",
        "digest": config.digest,
    }


@router.post("/notifications/settings")
async def save_settings(
    request: Request, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    require(user, Action.MANAGE_USERS)
    raw = await request.form()
    form: dict[str, Any] = {k: str(raw.get(k) or "") for k in _TEXT_FIELDS}
    form |= {f"recipients_{k}": [str(v) for v in raw.getlist(f"recipients_{k}")] for k in KINDS}

    def work() -> str:
        changed = save_form(db, ctx.settings, form, actor=user.username)
        if not changed:
            return "通知设置没有变化"
        return f"已保存通知设置（{len(changed)} 项有变化，已记入审计日志）"

    def show_error(e: Exception, status: int) -> Response:
        shown = {**form, **{f"event_{k}": bool(form.get(f"event_{k}")) for k in KINDS}}
        errors = {getattr(e, "field", "form"): getattr(e, "message", str(e))}
        return _render(request, db, user, ctx, admin=True, status_code=status, form=shown,
                       errors=errors)  # fmt: skip

    return form_change(
        request, db, work, redirect_to="/notifications#notify-setup", show_error=show_error
    )


_TEXT_FIELDS = (
    *(f"event_{k}" for k in KINDS),
    "expiry_days", "checklist_days", "quiet_hours", "digest", "webhook_url", "webhook_clear",
)  # fmt: skip
