"""Users of the product and their roles (销售专员 sales, 审核人 reviewer, 管理员 admin)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow


class Role(StrEnum):
    """What a user may do. Labels live in the taxonomy (``[roles]``)."""

    SALES = "sales"
    REVIEWER = "reviewer"
    ADMIN = "admin"


ROLE_VALUES = tuple(r.value for r in Role)


class User(SQLModel, table=True):
    """A person who signs in. ``password_hash`` is empty for users who cannot sign in yet."""

    __tablename__ = "app_user"
    __table_args__ = (
        sa.CheckConstraint(
            "role IN ('sales', 'reviewer', 'admin')",
            name="role",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(default="", max_length=100)
    role: str = Field(default=Role.SALES.value, max_length=16)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: Where notifications to this user go (migration 0015); None: nothing by e-mail.
    email: str | None = Field(default=None, max_length=254)


class UserPublic(SQLModel):
    """What may be shown about a user (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    is_active: bool
    created_at: datetime
    email: str | None = None


# --- sign-in attempts (migration 0002, review service H1) -------------------------------------


class LoginAttempt(SQLModel, table=True):
    """One sign-in attempt for a username (known or not); drives login throttling."""

    __tablename__ = "login_attempt"
    __table_args__ = (sa.Index("ix_login_attempt_username_at", "username", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    succeeded: bool = Field(default=False)
