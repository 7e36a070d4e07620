"""Users: create, sign in (argon2, throttled), change role, disable, end web sessions.

Every action is audited.

Passwords are hashed with argon2id (argon2-cffi, its default parameters) and never logged or
audited. Sign-in attempts are recorded in the ``login_attempt`` table, so throttling holds
across processes: after :data:`MAX_FAILURES` failed attempts for one username within
:data:`THROTTLE_WINDOW`, that username is locked until :data:`THROTTLE_WINDOW` has passed since
the last failure (attempts during the lock are refused without being checked or counted).

Permission checks (only admins manage users) belong to the caller: use
``archive.permissions.require(user, Action.MANAGE_USERS)`` before calling the managing functions.
The managing functions flush but never commit; :func:`authenticate` commits (see there).
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, col, select

from archive.errors import AuthenticationError, ThrottledError
from models import repo
from models.db import utcnow
from models.errors import ConflictError, NotFoundError, ValidationError
from models.user import ROLE_VALUES, LoginAttempt, User
from models.validation import validate_email

log = logging.getLogger(__name__)

MAX_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
MAX_USERNAME_LENGTH = 64
_AUTH_FAILED = "用户名或密码错误"

_hasher = PasswordHasher()
# Verified against for unknown users, so that they take as long as known ones.


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist (same time either way); made on
    first use, not at import (argon2 takes about 0.2 s, which every CLI command would pay)."""
    return _hasher.hash("dossier-dummy-password")


# --- validation -------------------------------------------------------------------------------


def _clean_username(username: str) -> str:
    name = unicodedata.normalize("NFC", username or "").strip()
    if not name:
        raise ValidationError("用户名不能为空", field="username", reason="required")
    if len(name) > MAX_USERNAME_LENGTH or any(ch.isspace() for ch in name):
        raise ValidationError("用户名不能含空格且不超过64个字符", field="username", reason="format")
    return name


def _check_role(role: str) -> str:
    if role not in ROLE_VALUES:
        raise ValidationError(f"角色“{role}”无效", field="role", reason="option_unknown")
    return role


def _check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"密码至少需要{MIN_PASSWORD_LENGTH}个字符", field="password", reason="too_short"
        )
    return password


def _clean_email(email: str | None) -> str | None:
    """A user's e-mail address, checked; blank means none."""
    text = (email or "").strip()
    return validate_email(text, "email") if text else None


def _require_user(session: Session, username: str) -> User:
    user = repo.get_user(session, username=username)
    if user is None:
        raise NotFoundError(f"用户 {username} 不存在", username=username)
    return user


def _public(user: User) -> dict[str, object]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "is_active": user.is_active,
        "email": user.email,
    }


# --- managing users ---------------------------------------------------------------------------


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    email: str | None = None,
    actor: str,
) -> User:
    """Create a user who can sign in (audited as ``user.create``, without the password).

    Args:
        session: Open session; the caller commits.
        username: Unique sign-in name (no spaces, at most 64 characters).
        password: At least 8 characters; stored only as an argon2id hash.
        role: ``sales``, ``reviewer`` or ``admin``.
        display_name: Name shown to people (defaults to the username).
        email: Where notifications to the user go (optional; checked).
        actor: Who creates the user (username, or e.g. ``cli:root``).

    Raises:
        ValidationError: Bad username, role or password.
        ConflictError: The username is taken.
    """
    name = _clean_username(username)
    _check_role(role)
    _check_password(password)
    address = _clean_email(email)
    if repo.get_user(session, username=name) is not None:
        raise ConflictError(f"用户名 {name} 已存在", field="username", existing=name)
    user = User(
        username=name,
        role=role,
        display_name=(display_name or "").strip() or name,
        password_hash=_hasher.hash(password),
        email=address,
    )
    session.add(user)
    session.flush()
    repo.add_audit_event(
        session,
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=name,
        after=_public(user),
    )
    return user


def _change_user(
    session: Session,
    *,
    user: User,
    changes: dict[str, object],
    actor: str,
    action: str,
    detail: str | None = None,
) -> User:
    before = {k: getattr(user, k) for k in changes}
    if before == changes:
        return user
    for name, value in changes.items():
        setattr(user, name, value)
    session.add(user)
    session.flush()
    repo.add_audit_event(
        session,
        actor=actor,
        action=action,
        entity_type="user",
        entity_id=user.username,
        before=before,
        after=dict(changes),
        detail=detail,
    )
    return user


def set_role(session: Session, *, username: str, role: str, actor: str) -> User:
    """Change a user's role (audited as ``user.set_role`` with before/after).

    Raises:
        NotFoundError: No such user.
        ValidationError: Unknown role.
    """
    user = _require_user(session, username)
    return _change_user(
        session, user=user, changes={"role": _check_role(role)}, actor=actor, action="user.set_role"
    )


def set_email(session: Session, *, username: str, email: str | None, actor: str) -> User:
    """Set (or, with a blank, clear) where a user's notifications go (audited ``user.set_email``).

    Raises:
        NotFoundError: No such user.
        ValidationError: Not an e-mail address (reason ``email_format``).
    """
    user = _require_user(session, username)
    return _change_user(
        session,
        user=user,
        changes={"email": _clean_email(email)},
        actor=actor,
        action="user.set_email",
    )


def disable_user(session: Session, *, username: str, actor: str) -> User:
    """Disable a user: they can no longer sign in and see nothing (audited ``user.disable``).

    Their web sessions are revoked at once (the audit event's detail counts them).

    Raises:
        NotFoundError: No such user.
    """
    user = _require_user(session, username)
    ended = repo.revoke_user_web_sessions(session, user_id=int(user.id or 0))
    return _change_user(
        session,
        user=user,
        changes={"is_active": False},
        actor=actor,
        action="user.disable",
        detail=f"结束全部会话（{ended} 个）" if ended else None,
    )


def end_sessions(
    session: Session, *, username: str, actor: str, now: datetime | None = None
) -> int:
    """End all of a user's web sessions ("结束全部会话"; audited ``user.end_sessions``).

    Their next request goes to the sign-in page. Returns how many sessions were live.

    Raises:
        NotFoundError: No such user.
    """
    user = _require_user(session, username)
    ended = repo.revoke_user_web_sessions(session, user_id=int(user.id or 0), now=now)
    repo.add_audit_event(
        session,
        actor=actor,
        action="user.end_sessions",
        entity_type="user",
        entity_id=user.username,
        after={"sessions_ended": ended},
        detail=f"结束全部会话（{ended} 个）",
    )
    return ended


def live_session_counts(session: Session) -> dict[str, int]:
    """Live web sessions per username (users without one are absent)."""
    by_id = repo.count_live_web_sessions(session)
    if not by_id:
        return {}
    names = session.exec(select(User.id, User.username).where(col(User.id).in_(by_id))).all()
    return {name: by_id[int(user_id)] for user_id, name in names if user_id is not None}


def enable_user(session: Session, *, username: str, actor: str) -> User:
    """Enable a disabled user again (audited ``user.enable``).

    Raises:
        NotFoundError: No such user.
    """
    user = _require_user(session, username)
    return _change_user(
        session, user=user, changes={"is_active": True}, actor=actor, action="user.enable"
    )


def set_password(session: Session, *, username: str, password: str, actor: str) -> User:
    """Set a new password (audited ``user.set_password``; the password is never recorded).

    The user's web sessions end with the old password (the detail counts them).

    Raises:
        NotFoundError: No such user.
        ValidationError: Password too short.
    """
    user = _require_user(session, username)
    user.password_hash = _hasher.hash(_check_password(password))
    session.add(user)
    session.flush()
    ended = repo.revoke_user_web_sessions(session, user_id=int(user.id or 0))
    repo.add_audit_event(
        session,
        actor=actor,
        action="user.set_password",
        entity_type="user",
        entity_id=username,
        detail=f"结束全部会话（{ended} 个）" if ended else None,
    )
    return user


def list_users(session: Session, *, include_disabled: bool = True) -> list[User]:
    """All users ordered by username (disabled ones too unless ``include_disabled`` is False)."""
    query = select(User)
    if not include_disabled:
        query = query.where(col(User.is_active).is_(True))
    return list(session.exec(query.order_by(col(User.username))).all())


# --- signing in -------------------------------------------------------------------------------


def _recent_failures(session: Session, username: str, now: datetime) -> list[datetime]:
    """Failure times within the window and after the last success, newest first."""
    since = now - THROTTLE_WINDOW
    last_success = session.exec(
        select(LoginAttempt.at)
        .where(LoginAttempt.username == username, col(LoginAttempt.succeeded).is_(True))
        .where(col(LoginAttempt.at) > since)
        .order_by(col(LoginAttempt.at).desc())
    ).first()
    query = select(LoginAttempt.at).where(
        LoginAttempt.username == username,
        col(LoginAttempt.succeeded).is_(False),
        col(LoginAttempt.at) > (last_success or since),
    )
    return list(session.exec(query.order_by(col(LoginAttempt.at).desc())).all())


def throttle_remaining(session: Session, *, username: str, now: datetime | None = None) -> int:
    """Seconds until ``username`` may try to sign in again (0 when not locked)."""
    now = now or utcnow()
    failures = _recent_failures(session, _fold(username), now)
    if len(failures) < MAX_FAILURES:
        return 0
    unlock = failures[0] + THROTTLE_WINDOW
    return max(0, int((unlock - now).total_seconds()) + 1)


def _fold(username: str) -> str:
    return unicodedata.normalize("NFC", username or "").strip()[:MAX_USERNAME_LENGTH]


def _password_ok(user: User | None, password: str) -> bool:
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    try:
        ok = _hasher.verify(stored, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    return ok and user is not None and bool(user.password_hash) and user.is_active


def _record(session: Session, *, username: str, succeeded: bool, now: datetime) -> None:
    session.add(LoginAttempt(username=username, succeeded=succeeded, at=now))
    repo.add_audit_event(
        session,
        actor=username or "anonymous",
        action="user.login" if succeeded else "user.login_failed",
        entity_type="user",
        entity_id=username,
    )
    session.commit()


def _maybe_rehash(session: Session, user: User, password: str) -> None:
    if user.password_hash and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)


def authenticate(
    session: Session, *, username: str, password: str, now: datetime | None = None
) -> User:
    """Check a username and password; record the attempt (audited) and commit.

    The attempt must be recorded even when the sign-in fails, and a failure is reported by
    raising, so this function commits the session itself (before raising). Call it with a
    session that holds no other pending work.

    Args:
        session: Open session (committed by this function).
        username: As typed (NFC-normalized and stripped).
        password: As typed; never logged or stored.
        now: The current time (tests pass their own clock).

    Returns:
        The signed-in user.

    Raises:
        ThrottledError: Too many recent failures for this username; nothing is checked.
        AuthenticationError: Unknown user, wrong password or disabled user (same message).
    """
    now = now or utcnow()
    name = _fold(username)
    wait = throttle_remaining(session, username=name, now=now)
    if wait:
        repo.add_audit_event(
            session,
            actor=name or "anonymous",
            action="user.login_throttled",
            entity_type="user",
            entity_id=name,
        )
        session.commit()
        log.warning("sign-in throttled for a username (%d s left)", wait)
        raise ThrottledError(
            f"登录失败次数过多，请在{(wait + 59) // 60}分钟后重试", retry_after=wait
        )
    user = repo.get_user(session, username=name) if name else None
    if not _password_ok(user, password):
        _record(session, username=name, succeeded=False, now=now)
        raise AuthenticationError(_AUTH_FAILED)
    assert user is not None  # _password_ok is False for None
    _maybe_rehash(session, user, password)
    _record(session, username=name, succeeded=True, now=now)
    return user


__all__ = [
    "MAX_FAILURES",
    "THROTTLE_WINDOW",
    "AuthenticationError",
    "ThrottledError",
    "authenticate",
    "create_user",
    "disable_user",
    "enable_user",
    "end_sessions",
    "live_session_counts",
    "list_users",
    "set_password",
    "set_role",
    "throttle_remaining",
]
