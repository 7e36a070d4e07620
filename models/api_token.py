"""Personal API tokens and API uploads (issue 13, item 1): the REST API's own state.

``api_token``: a user's token for ``Authorization: Bearer``. Only the SHA-256 of the random
token is stored (the token is shown once, when created); a token is live while ``revoked_at`` is
empty and ``expires_at`` (optional) lies ahead. ``last_used_at`` is written at most once a minute.

``api_upload``: one file handed in through ``POST /api/v1/documents``. The pair (user,
``Idempotency-Key``) is unique, so a retried upload finds the first one instead of filing the
file again; ``sha256`` finds the document once the intake has filed it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow
from models.user import User  # noqa: F401  (user_id's foreign key target)


class ApiToken(SQLModel, table=True):
    """One personal API token of one user."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(default="", max_length=100)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=64)


class ApiUpload(SQLModel, table=True):
    """A file handed in through the API; its outcome is looked up by ``sha256``."""

    __tablename__ = "api_upload"
    __table_args__ = (sa.UniqueConstraint("user_id", "idempotency_key"),)

    id: str = Field(primary_key=True, max_length=36)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    idempotency_key: str | None = Field(default=None, max_length=200)
    filename: str = Field(max_length=255)
    stored_name: str | None = Field(default=None, max_length=255)
    sha256: str | None = Field(default=None, max_length=64, index=True)
    size: int | None = Field(default=None, sa_type=sa.BigInteger)
    customer_code: str | None = Field(default=None, max_length=32)
    document_type: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    dropped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
