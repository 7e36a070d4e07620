"""Server-side web sessions (issue 11, item 7): revocable sign-ins for the review web UI.

The browser holds a random opaque token (inside the signed session cookie); the database holds
only its SHA-256, so a copy of the table cannot be replayed as cookies. A session is live while
``revoked_at`` is empty and ``expires_at`` is in the future; ``expires_at`` slides with use
(idle limit) but never past ``created_at`` + the absolute limit (see ``models.repo.sessions``).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow
from models.user import User  # noqa: F401  (user_id's foreign key target)


class WebSession(SQLModel, table=True):
    """One sign-in of one user in one browser."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
