"""Users: looked up by username, created (audited) on first use."""

from __future__ import annotations

from sqlmodel import Session, select

from models.audit import SYSTEM_ACTOR
from models.errors import ValidationError
from models.repo.audit import add_audit_event
from models.repo.base import atomic
from models.user import ROLE_VALUES, User


def get_user(session: Session, *, username: str) -> User | None:
    """The user with this username, or None."""
    return session.exec(select(User).where(User.username == username)).first()


def ensure_user(
    session: Session,
    *,
    username: str,
    role: str = "sales",
    display_name: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> User:
    """Return the user called ``username``, creating it (audited) when missing.

    An existing user is returned unchanged, whatever ``role`` says.

    Raises:
        ValidationError: Empty username or unknown role.
    """
    username = (username or "").strip()
    if not username:
        raise ValidationError("用户名不能为空", field="username", reason="required")
    if role not in ROLE_VALUES:
        raise ValidationError(f"角色“{role}”无效", field="role", reason="option_unknown")
    existing = get_user(session, username=username)
    if existing is not None:
        return existing
    with atomic(session):
        user = User(username=username, role=role, display_name=display_name or username)
        session.add(user)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="user.create",
            entity_type="user",
            entity_id=username,
            after={"username": username, "role": role, "display_name": user.display_name},
        )
    return user
