"""The audit trail page (reviewers, admins) and user management (admins only)."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select

from archive import users as user_service
from archive.permissions import Action, require
from config.errors import DossierError, ErrorCode
from models.audit import AuditEvent
from web.deps import CurrentUser, DbSession
from web.params import MAX_ID
from web.views import local_time, render

router = APIRouter()

AUDIT_PAGE_SIZE = 100


def audit_events(
    db: Session, *, document: str | None, actor: str | None, limit: int, offset: int
) -> list[AuditEvent]:
    """Audit events, newest first, optionally for one document and/or one actor (read only)."""
    query = select(AuditEvent)
    if document:
        query = query.where(AuditEvent.entity_type == "document",
                            AuditEvent.entity_id == document)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    query = query.order_by(col(AuditEvent.id).desc()).offset(offset).limit(limit)
    return list(db.exec(query).all())


def _event_row(event: AuditEvent) -> dict[str, Any]:
    def dump(value: Any) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    return {
        "at": local_time(event.at), "actor": event.actor, "action": event.action,
        "entity_type": event.entity_type, "entity_id": event.entity_id,
        "before": dump(event.before), "after": dump(event.after), "detail": event.detail,
    }


@router.get("/audit")
def audit_page(request: Request, db: DbSession, user: CurrentUser) -> Response:
    require(user, Action.VIEW_AUDIT)
    q = request.query_params
    filters = {"document": (q.get("document") or "").strip() or None,
               "user": (q.get("user") or "").strip() or None}
    raw = q.get("page") or "1"
    page = min(max(1, int(raw)), MAX_ID) if raw.isdigit() and len(raw) <= 10 else 1
    events = audit_events(db, document=filters["document"], actor=filters["user"],
                          limit=AUDIT_PAGE_SIZE + 1, offset=(page - 1) * AUDIT_PAGE_SIZE)

    def page_url(n: int) -> str:
        params = {k: v for k, v in filters.items() if v}
        return "/audit?" + urlencode({**params, "page": n})

    return render(request, "audit.html", user=user, filters=filters, page=page,
                  events=[_event_row(e) for e in events[:AUDIT_PAGE_SIZE]],
                  has_more=len(events) > AUDIT_PAGE_SIZE, page_url=page_url)


@router.get("/users")
def users_page(request: Request, db: DbSession, user: CurrentUser) -> Response:
    require(user, Action.MANAGE_USERS)
    return render(request, "users.html", user=user, users=user_service.list_users(db),
                  sessions=user_service.live_session_counts(db))


def _manage(request: Request, db: Session, work: Any, done: str) -> Response:
    """Run a user-managing call, commit, and come back to the users page with a message."""
    try:
        work()
        db.commit()
    except DossierError as e:
        db.rollback()
        if e.code not in (ErrorCode.VALIDATION, ErrorCode.CONFLICT, ErrorCode.NOT_FOUND):
            raise
        request.session["flash"], request.session["flash_kind"] = e.message, "error"
    else:
        request.session["flash"], request.session["flash_kind"] = done, "ok"
    return RedirectResponse("/users", status_code=303)


@router.post("/users")
def add_user(request: Request, db: DbSession, user: CurrentUser,
             username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
             role: Annotated[str, Form()] = "sales",
             display_name: Annotated[str, Form()] = "") -> Response:
    require(user, Action.MANAGE_USERS)
    return _manage(request, db, lambda: user_service.create_user(
        db, username=username, password=password, role=role,
        display_name=display_name or None, actor=user.username,
    ), f"已新增用户 {username.strip()}")


@router.post("/users/{username}/role")
def set_role(request: Request, username: str, db: DbSession, user: CurrentUser,
             role: Annotated[str, Form()] = "") -> Response:
    require(user, Action.MANAGE_USERS)
    return _manage(request, db, lambda: user_service.set_role(
        db, username=username, role=role, actor=user.username), f"已修改 {username} 的角色")


@router.post("/users/{username}/disable")
def disable(request: Request, username: str, db: DbSession, user: CurrentUser) -> Response:
    require(user, Action.MANAGE_USERS)
    return _manage(request, db, lambda: user_service.disable_user(
        db, username=username, actor=user.username), f"已停用用户 {username}")


@router.post("/users/{username}/end-sessions")
def end_sessions(request: Request, username: str, db: DbSession, user: CurrentUser) -> Response:
    require(user, Action.MANAGE_USERS)
    return _manage(request, db, lambda: user_service.end_sessions(
        db, username=username, actor=user.username), f"已结束 {username} 的全部会话")
