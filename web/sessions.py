"""Server-side sessions: who is signed in is decided by the database on every request.

The signed cookie (Starlette's ``SessionMiddleware``, see web/security.py) carries only a random
opaque token, the CSRF token and a flash message. The token names a ``web_session`` row (stored
as its SHA-256, ``models.repo.sessions``); a request is signed in only while that row is live
and its user exists and is active. So:

- signing out revokes the row: a copy of the cookie taken before is worthless afterwards;
- an admin's "结束全部会话" and disabling a user revoke all their rows (``archive.users``);
- the user is re-read on every request, so a role change applies to the next request;
- a session ends after ``web_session_idle_minutes`` without a request (sliding) and at the
  latest ``web_session_max_hours`` after signing in; rows older than that are deleted at each
  sign-in.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlmodel import Session
from starlette.requests import Request

from config.settings import Settings
from models import repo
from models.user import User
from web.security import SESSION_CSRF

SESSION_TOKEN = "sid"


def limits(settings: Settings) -> tuple[timedelta, timedelta]:
    """The idle and the absolute session lifetime from the settings."""
    return (
        timedelta(minutes=settings.web_session_idle_minutes),
        timedelta(hours=settings.web_session_max_hours),
    )


def cookie_max_age(settings: Settings) -> int:
    """Seconds the browser keeps the cookie: the absolute lifetime (the server decides sooner)."""
    return int(limits(settings)[1].total_seconds())


def sign_in(request: Request, db: Session, *, user: User, settings: Settings) -> None:
    """Start a server-side session for ``user`` and put its token in a fresh cookie.

    The cookie's earlier contents are dropped (no session fixation) and a new CSRF token is
    made; a session the cookie still named is revoked. Sessions older than the absolute
    lifetime are deleted on the way. Commits.
    """
    idle, absolute = limits(settings)
    previous = request.session.get(SESSION_TOKEN)
    if previous:
        repo.revoke_web_session(db, token=str(previous))
    repo.delete_old_web_sessions(db, absolute=absolute)
    token, _row = repo.create_web_session(
        db, user_id=int(user.id or 0), idle=idle, absolute=absolute
    )
    db.commit()
    request.session.clear()
    request.session[SESSION_TOKEN] = token
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)


def signed_in_user(request: Request, db: Session, *, settings: Settings) -> User | None:
    """The user of the request's live session, re-read from the database, or None.

    A revoked or expired session, or a missing or disabled user, empties the cookie. A live
    session's expiry slides forward (written at most once a minute; commits then).
    """
    token = request.session.get(SESSION_TOKEN)
    if not token:
        return None
    row = repo.find_live_web_session(db, token=str(token))
    user = db.get(User, row.user_id) if row is not None else None
    if row is None or user is None or not user.is_active:
        request.session.clear()
        return None
    idle, absolute = limits(settings)
    if repo.touch_web_session(db, row, idle=idle, absolute=absolute):
        db.commit()
    return user


def sign_out(request: Request, db: Session) -> None:
    """Revoke the request's session (audited ``user.logout``) and empty the cookie. Commits."""
    token = request.session.get(SESSION_TOKEN)
    row = repo.revoke_web_session(db, token=str(token)) if token else None
    if row is not None:
        user = db.get(User, row.user_id)
        username = user.username if user is not None else str(row.user_id)
        repo.add_audit_event(
            db, actor=username, action="user.logout", entity_type="user", entity_id=username
        )
        db.commit()
    request.session.clear()
