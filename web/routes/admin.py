"""The audit trail page (reviewers, admins) and user management (admins only)."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from archive import users as user_service
from archive.permissions import Action, require
from config.errors import DossierError, ErrorCode
from web.audit_view import (
    AUDIT_PAGE_SIZE,
    AuditFilters,
    audit_page_events,
    event_row,
    filter_choices,
)
from web.deps import Context, CurrentUser, DbSession
from web.params import MAX_ID
from web.views import render

router = APIRouter()


@router.get("/audit")
def audit_page(request: Request, db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    require(user, Action.VIEW_AUDIT)
    filters = AuditFilters.from_query(request.query_params)
    raw = request.query_params.get("page") or "1"
    page = min(max(1, int(raw)), MAX_ID) if raw.isdigit() and len(raw) <= 10 else 1
    events, total = audit_page_events(db, filters, page=page)

    def page_url(n: int) -> str:
        return "/audit?" + urlencode({**filters.params(), "page": n})

    return render(request, "audit.html", user=user, filters=filters, page=page, total=total,
                  pages=max(1, math.ceil(total / AUDIT_PAGE_SIZE)), choices=filter_choices(db),
                  events=[event_row(e, ctx.taxonomy) for e in events], page_url=page_url)


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
             display_name: Annotated[str, Form()] = "",
             email: Annotated[str, Form()] = "") -> Response:
    require(user, Action.MANAGE_USERS)
    return _manage(request, db, lambda: user_service.create_user(
        db, username=username, password=password, role=role,
        display_name=display_name or None, email=email or None, actor=user.username,
    ), f"已新增用户 {username.strip()}")


@router.post("/users/{username}/email")
def set_email(request: Request, username: str, db: DbSession, user: CurrentUser,
              email: Annotated[str, Form()] = "") -> Response:
    require(user, Action.MANAGE_USERS)
    return _manage(request, db, lambda: user_service.set_email(
        db, username=username, email=email, actor=user.username), f"已修改 {username} 的邮箱")


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
