"""Transaction-scoped locks that make a check-then-insert atomic on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session


def lock_original(session: Session, *, sha256: str) -> None:
    """Hold, until the session's transaction ends, the right to file these original bytes.

    PostgreSQL: a transaction-level advisory lock on the digest, so a second filing of the
    same bytes waits for the first to commit and then sees its rows. SQLite: every transaction
    begins with ``BEGIN IMMEDIATE`` (models.db), so starting it already excludes every other
    writer until commit.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"dossier.original:{sha256}"},
        )
    else:
        session.execute(sa.text("SELECT 1"))


def lock_migrations(connection: sa.Connection) -> None:
    """Hold, until the connection's transaction ends, the right to migrate the schema.

    Several workers starting together each run ``upgrade_to_head``: on PostgreSQL the second
    waits on this advisory lock, then finds the schema at head and does nothing. SQLite's
    ``BEGIN IMMEDIATE`` (models.db) already lets one writer at a time in.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": "dossier.migrations"},
        )
