"""Web sessions: created at sign-in, found by token, slid on use, revoked, cleaned.

The only writer of ``web_session``. Tokens are random (``secrets.token_urlsafe``) and stored
only as their SHA-256 (:func:`token_digest`). A session is live while it is not revoked and
``expires_at`` lies ahead; each use moves ``expires_at`` to ``now + idle`` but never past
``created_at + absolute``.

Sessions are operational state, like login attempts: creating and touching one is not audited
(the sign-in itself is, as ``user.login``); revocations that a person asks for are audited by
the caller (``archive.users.end_sessions``, ``disable_user``). Functions flush, never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models.db import utcnow
from models.web_session import WebSession

TOKEN_BYTES = 32
# last_seen_at is written at most this often per session (one UPDATE a minute, not a request).
TOUCH_INTERVAL = timedelta(seconds=60)


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a session token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _expiry(row: WebSession, *, now: datetime, idle: timedelta, absolute: timedelta) -> datetime:
    return min(now + idle, row.created_at + absolute)


def create_web_session(
    session: Session,
    *,
    user_id: int,
    idle: timedelta,
    absolute: timedelta,
    now: datetime | None = None,
) -> tuple[str, WebSession]:
    """Start a session for ``user_id``; returns the token (give it to the browser) and the row."""
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = WebSession(
        token_sha256=token_digest(token),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now,
    )
    row.expires_at = _expiry(row, now=now, idle=idle, absolute=absolute)
    session.add(row)
    session.flush()
    return token, row


def find_live_web_session(
    session: Session, *, token: str, now: datetime | None = None
) -> WebSession | None:
    """The live (not revoked, not expired) session with this token, or None."""
    if not token:
        return None
    now = now or utcnow()
    row = session.exec(
        select(WebSession).where(WebSession.token_sha256 == token_digest(token))
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row


def touch_web_session(
    session: Session,
    row: WebSession,
    *,
    idle: timedelta,
    absolute: timedelta,
    now: datetime | None = None,
) -> bool:
    """Record a use of a live session (sliding expiry); False when too recent to write."""
    now = now or utcnow()
    if now - row.last_seen_at < TOUCH_INTERVAL:
        return False
    row.last_seen_at = now
    row.expires_at = _expiry(row, now=now, idle=idle, absolute=absolute)
    session.add(row)
    session.flush()
    return True


def revoke_web_session(
    session: Session, *, token: str, now: datetime | None = None
) -> WebSession | None:
    """Revoke the live session with this token (sign-out); the row, or None if none was live."""
    row = find_live_web_session(session, token=token, now=now)
    if row is None:
        return None
    row.revoked_at = now or utcnow()
    session.add(row)
    session.flush()
    return row


def revoke_user_web_sessions(session: Session, *, user_id: int, now: datetime | None = None) -> int:
    """Revoke every live session of a user; returns how many were live."""
    now = now or utcnow()
    result = session.execute(
        sa.update(WebSession)
        .where(
            col(WebSession.user_id) == user_id,
            col(WebSession.revoked_at).is_(None),
            col(WebSession.expires_at) > now,
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def count_live_web_sessions(session: Session, *, now: datetime | None = None) -> dict[int, int]:
    """Live sessions per user id (users without one are absent)."""
    now = now or utcnow()
    rows = session.exec(
        select(WebSession.user_id, sa.func.count())
        .where(col(WebSession.revoked_at).is_(None), col(WebSession.expires_at) > now)
        .group_by(col(WebSession.user_id))
    ).all()
    return {int(user_id): int(n) for user_id, n in rows}


def delete_old_web_sessions(
    session: Session, *, absolute: timedelta, now: datetime | None = None
) -> int:
    """Delete sessions created longer ago than the absolute limit (all of them dead by then)."""
    cutoff = (now or utcnow()) - absolute
    result = session.execute(
        sa.delete(WebSession)
        .where(col(WebSession.created_at) < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
