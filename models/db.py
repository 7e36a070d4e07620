"""Database plumbing: engines, sessions, portable column types and migrations.

Works identically on SQLite (the zero-setup default) and PostgreSQL 15 (through psycopg 3).
Nothing here runs at import time except declaring the metadata naming convention, which
Alembic needs so that constraints and indexes have the same names on both databases.

SQLite notes: foreign keys are switched on, the journal is WAL and every transaction starts
with ``BEGIN IMMEDIATE``. SQLite allows one writer at a time; taking the write lock up front
means a transaction that reads and then writes waits for the lock (``busy_timeout``) instead of
failing with "database is locked" half-way. Keep transactions short (never hold one across OCR).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

from models.locks import lock_migrations

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Must be in place before any table class is declared (the table modules import this one).
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    Writes refuse naive datetimes and convert aware ones to UTC; SQLite, which has no time
    zones, stores the UTC wall time. Reads always return aware UTC datetimes.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# --- engines and sessions ---------------------------------------------------------------------


def normalize_database_url(url: str) -> str:
    """Rewrite ``postgresql://`` and ``postgres://`` to the psycopg 3 driver; others unchanged."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL.

    Args:
        url: ``sqlite:///path.db`` or ``postgresql://...`` (rewritten to ``postgresql+psycopg``).
        echo: Log every SQL statement (debugging only).

    Returns:
        A configured engine. SQLite: foreign keys on, WAL, busy timeout, ``BEGIN IMMEDIATE``.
    """
    sa_url = make_url(normalize_database_url(url))
    if sa_url.get_backend_name() == "sqlite":
        if sa_url.database and sa_url.database != ":memory:":
            Path(sa_url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            sa_url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(sa_url, echo=echo, pool_pre_ping=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends normally and rolls back on any exception.

    Example:
        with session_scope(engine) as session:
            repo.create_customer(session, data=..., actor="alice")
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# --- migrations -------------------------------------------------------------------------------


def _engine_of(engine_or_url: Engine | str) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return make_engine(engine_or_url), True


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _run_alembic(engine_or_url: Engine | str, action: str, target: str) -> None:
    engine, owned = _engine_of(engine_or_url)
    try:
        with engine.begin() as connection:
            lock_migrations(connection)  # several workers starting together migrate once
            getattr(command, action)(_alembic_config(connection), target)
    finally:
        if owned:
            engine.dispose()


def upgrade_to_head(engine_or_url: Engine | str) -> None:
    """Apply every migration up to the newest one (idempotent).

    Args:
        engine_or_url: An engine, or a database URL (an engine is made and disposed).
    """
    _run_alembic(engine_or_url, "upgrade", "head")


def downgrade_to(engine_or_url: Engine | str, *, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (``"base"``: an empty database). For tests and ops."""
    _run_alembic(engine_or_url, "downgrade", revision)


def current_revision(engine_or_url: Engine | str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine, owned = _engine_of(engine_or_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def head_revision() -> str:
    """The newest revision shipped with this version of dossier."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def load_all_tables() -> sa.MetaData:
    """Import every table module and return the complete metadata (for Alembic and tests)."""
    import models.api_token  # noqa: F401
    import models.audit  # noqa: F401
    import models.contact  # noqa: F401
    import models.cooperation  # noqa: F401
    import models.customer  # noqa: F401
    import models.document  # noqa: F401
    import models.followup  # noqa: F401
    import models.intake_pull  # noqa: F401
    import models.notification  # noqa: F401
    import models.notification_setting  # noqa: F401
    import models.option_item  # noqa: F401
    import models.runs  # noqa: F401
    import models.search_gram  # noqa: F401
    import models.tag  # noqa: F401
    import models.user  # noqa: F401
    import models.web_session  # noqa: F401

    return SQLModel.metadata
