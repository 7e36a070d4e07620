"""Personal API tokens and API uploads: the only writer of ``api_token`` and ``api_upload``.

Tokens are random (``secrets.token_urlsafe``) and stored only as their SHA-256 (the same
:func:`~models.repo.sessions.token_digest` as web sessions). Creating and revoking a token are
audited here (``api_token.create`` / ``api_token.revoke``); recording a use is operational state
and is not. Uploads are operational state too (the document the intake files is audited).
Functions flush, never commit.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from models.api_token import ApiToken, ApiUpload
from models.db import utcnow
from models.repo.audit import add_audit_event
from models.repo.sessions import token_digest

TOKEN_PREFIX = "dsr_"
TOKEN_BYTES = 32
# last_used_at is written at most this often per token (one UPDATE a minute, not a request).
TOUCH_INTERVAL = timedelta(seconds=60)


def create_api_token(
    session: Session,
    *,
    user_id: int,
    username: str,
    name: str,
    actor: str,
    expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    """A new token for ``user_id``; returns the token (shown once) and the row. Audited."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiToken(
        token_sha256=token_digest(token),
        user_id=user_id,
        name=name,
        created_by=actor,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    add_audit_event(
        session,
        actor=actor,
        action="api_token.create",
        entity_type="api_token",
        entity_id=int(row.id or 0),
        after={
            "user": username,
            "name": name,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, row


def find_api_token(session: Session, *, token: str) -> ApiToken | None:
    """The row of this token (live or not), or None for a token never issued."""
    if not token:
        return None
    return session.exec(
        select(ApiToken).where(ApiToken.token_sha256 == token_digest(token))
    ).first()


def token_is_live(row: ApiToken, *, now: datetime | None = None) -> bool:
    """Not revoked and not expired."""
    now = now or utcnow()
    if row.revoked_at is not None:
        return False
    return row.expires_at is None or row.expires_at > now


def touch_api_token(session: Session, row: ApiToken, *, now: datetime | None = None) -> bool:
    """Record a use (``last_used_at``); False when the last one is too recent to write."""
    now = now or utcnow()
    if row.last_used_at is not None and now - row.last_used_at < TOUCH_INTERVAL:
        return False
    row.last_used_at = now
    session.add(row)
    session.flush()
    return True


def get_api_token(session: Session, *, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def list_api_tokens(session: Session, *, user_id: int | None = None) -> list[ApiToken]:
    """Tokens, newest first; only one user's when ``user_id`` is given."""
    query = select(ApiToken)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.exec(query.order_by(col(ApiToken.id).desc())).all())


def revoke_api_token(
    session: Session, *, row: ApiToken, actor: str, now: datetime | None = None
) -> ApiToken:
    """Revoke ``row`` (a revoked token stays revoked). Audited."""
    if row.revoked_at is not None:
        return row
    row.revoked_at = now or utcnow()
    row.revoked_by = actor
    session.add(row)
    session.flush()
    add_audit_event(
        session,
        actor=actor,
        action="api_token.revoke",
        entity_type="api_token",
        entity_id=int(row.id or 0),
        after={"name": row.name},
    )
    return row


def find_api_upload(session: Session, *, user_id: int, key: str) -> ApiUpload | None:
    """The upload ``user_id`` sent with this ``Idempotency-Key``, or None."""
    return session.exec(
        select(ApiUpload).where(ApiUpload.user_id == user_id, ApiUpload.idempotency_key == key)
    ).first()


def get_api_upload(session: Session, *, upload_id: str) -> ApiUpload | None:
    return session.get(ApiUpload, upload_id)


def add_api_upload(session: Session, *, row: ApiUpload) -> ApiUpload:
    """Insert an upload (the unique key refuses a second one with the same key)."""
    session.add(row)
    session.flush()
    return row


def mark_api_upload_dropped(
    session: Session, *, row: ApiUpload, stored_name: str, sha256: str, size: int
) -> ApiUpload:
    """Record where the upload's bytes were dropped into the intake."""
    row.stored_name, row.sha256, row.size = stored_name, sha256, size
    row.dropped_at = utcnow()
    session.add(row)
    session.flush()
    return row


def delete_api_upload(session: Session, *, row: ApiUpload) -> None:
    """Forget an upload whose file never reached the intake (so its key may be used again)."""
    session.delete(row)
    session.flush()
