"""Who a notification goes to: a customer's owner, a document's submitter, or everyone of a role.

Only active users with an e-mail address (``users set-email``, the users page) receive
anything; a person without one is simply not reached by e-mail (the webhook still carries every
event). Each function returns addresses, deduplicated, in a stable order.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from models.customer import Customer
from models.user import User


def _address(user: User | None) -> list[str]:
    return [user.email] if user is not None and user.is_active and user.email else []


def owner_emails(session: Session, customer: Customer | None) -> list[str]:
    """The customer's owner (负责人), when it has one with an address."""
    if customer is None or customer.owner_id is None:
        return []
    return _address(session.get(User, customer.owner_id))


def submitter_emails(session: Session, username: str | None) -> list[str]:
    """The user who handed the file in (``submitted_by``), when known and with an address."""
    if not username:
        return []
    user = session.exec(select(User).where(User.username == username)).first()
    return _address(user)


def role_emails(session: Session, role: str) -> list[str]:
    """Every active user of ``role`` (``admin``, ``reviewer``, ``sales``) with an address."""
    rows = session.exec(
        select(User.email)
        .where(User.role == role, col(User.is_active).is_(True), col(User.email).is_not(None))
        .order_by(col(User.username))
    ).all()
    return list(dict.fromkeys(str(e) for e in rows if e))


__all__ = ["owner_emails", "role_emails", "submitter_emails"]
