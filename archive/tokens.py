"""Personal API tokens (issue 13): created, listed and revoked by their user or an admin.

A token acts as its user: the same roles and visibility as a web sign-in
(:mod:`archive.permissions`). It is shown once, when created; the archive keeps only its
SHA-256. A token may expire (``expires_days``); a disabled user's tokens authenticate nobody.
Creating and revoking are audited (``models.repo.tokens``). The caller commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from archive.errors import TokenAuthenticationError
from archive.permissions import Action, can, require
from models import repo
from models.api_token import ApiToken
from models.db import utcnow
from models.repo import NotFoundError, ValidationError
from models.user import User

MAX_NAME = 100


def _may_manage(actor: User, owner_id: int) -> None:
    """Users manage their own tokens; admins (manage_users) anybody's."""
    if actor.id is not None and actor.id == owner_id and actor.is_active:
        return
    require(actor, Action.MANAGE_USERS)


def create_token(
    session: Session,
    actor: User,
    *,
    username: str | None = None,
    name: str = "",
    expires_days: int | None = None,
) -> tuple[str, ApiToken]:
    """A new token for ``username`` (default: the actor); the token text and its row.

    Raises:
        NotFoundError: No such user.
        PermissionDeniedError: A token for someone else, by a non-admin.
        ValidationError: A name too long, or an expiry that is not a positive number of days.
    """
    owner = repo.get_user(session, username=username) if username else actor
    if owner is None or owner.id is None:
        raise NotFoundError(f"用户 {username} 不存在", field="username")
    _may_manage(actor, owner.id)
    name = (name or "").strip()
    if len(name) > MAX_NAME:
        raise ValidationError(f"令牌名称不能超过 {MAX_NAME} 个字符", field="name", reason="length")
    expires_at: datetime | None = None
    if expires_days is not None:
        if expires_days < 1:
            raise ValidationError("有效天数须为正整数", field="expires_days", reason="range")
        expires_at = utcnow() + timedelta(days=expires_days)
    return repo.create_api_token(
        session,
        user_id=owner.id,
        username=owner.username,
        name=name,
        actor=actor.username,
        expires_at=expires_at,
    )


def list_tokens(session: Session, actor: User, *, all_users: bool = False) -> list[ApiToken]:
    """The actor's tokens; every user's for an admin asking for ``all_users``."""
    if all_users:
        require(actor, Action.MANAGE_USERS)
        return repo.list_api_tokens(session)
    if actor.id is None:  # the CLI's trusted operator owns no tokens
        return []
    return repo.list_api_tokens(session, user_id=actor.id)


def revoke_token(session: Session, actor: User, token_id: int) -> ApiToken:
    """Revoke token ``token_id``.

    Raises:
        NotFoundError: No such token, or one of another user for a non-admin (same message).
    """
    row = repo.get_api_token(session, token_id=token_id)
    if row is None or not (actor.id == row.user_id or _is_admin(actor)):
        raise NotFoundError(f"访问令牌 {token_id} 不存在", field="token_id")
    return repo.revoke_api_token(session, row=row, actor=actor.username)


def _is_admin(actor: User) -> bool:
    return can(actor, Action.MANAGE_USERS)


def authenticate_token(session: Session, token: str) -> User:
    """The active user a live token belongs to; records the use (caller commits).

    Raises:
        TokenAuthenticationError: Unknown, expired or revoked token, or a disabled user.
    """
    row = repo.find_api_token(session, token=token.strip())
    if row is None or not repo.token_is_live(row):
        raise TokenAuthenticationError()
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise TokenAuthenticationError()
    repo.touch_api_token(session, row)
    return user


def token_record(row: ApiToken, *, username: str | None = None) -> dict[str, Any]:
    """A token as JSON (never the token itself)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    now = utcnow()
    return {
        "id": row.id,
        "user_id": row.user_id,
        "username": username,
        "name": row.name,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "last_used_at": iso(row.last_used_at),
        "revoked_at": iso(row.revoked_at),
        "live": repo.token_is_live(row, now=now),
    }
