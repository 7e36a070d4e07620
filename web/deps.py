"""What every request needs: the app's context, a database session, the signed-in user, CSRF.

Routes declare these with ``Depends``; nothing here holds business rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from app.context import AppContext
from models.user import Role, User
from web.errors import LoginRequired
from web.security import CSRF_FIELD, CSRF_HEADER, csrf_valid
from web.sessions import signed_in_user

# The web app is built from the one application context (settings, engine, store, taxonomy).
WebContext = AppContext


def get_context(request: Request) -> WebContext:
    """The app's :class:`WebContext`."""
    return request.app.state.context


def get_db(context: Annotated[WebContext, Depends(get_context)]) -> Iterator[Session]:
    """A database session for one request; routes commit what they change."""
    with Session(context.engine, expire_on_commit=False) as session:
        yield session


def optional_user(
    request: Request,
    db: Annotated[Session, Depends(get_db)],
    context: Annotated[WebContext, Depends(get_context)],
) -> User | None:
    """The user of a live server-side session, re-read now (role, active), or None."""
    return signed_in_user(request, db, settings=context.settings)


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    """The signed-in user; without one the request is sent to the login page."""
    if user is None:
        raise LoginRequired()
    return user


def require_roles(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency that lets only the given roles through (others get 403)."""
    allowed = {r.value for r in roles}

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in allowed:
            raise HTTPException(status_code=403, detail="没有权限执行此操作")
        return user

    return check


async def check_csrf(request: Request) -> None:
    """Refuse (403) any POST whose CSRF token is missing or wrong.

    The token comes from the form field ``csrf_token`` or the ``X-CSRF-Token`` header. An API
    request with a bearer token needs none: the token is not sent by browsers on their own, and
    such a request is authenticated by the token alone (web/api/deps.py), never the cookie.
    """
    if request.method != "POST":
        return
    if request.url.path.startswith("/api/") and request.headers.get("authorization"):
        return
    submitted = request.headers.get(CSRF_HEADER)
    if not submitted:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
    if not csrf_valid(request, submitted):
        raise HTTPException(status_code=403, detail="表单已过期或来源无效，请刷新页面后重试")


DbSession = Annotated[Session, Depends(get_db)]
Context = Annotated[WebContext, Depends(get_context)]
CurrentUser = Annotated[User, Depends(current_user)]
