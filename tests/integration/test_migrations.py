"""Migrations: upgrade to head and back to base on SQLite and PostgreSQL; schema == models."""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from models.db import (
    current_revision,
    downgrade_to,
    head_revision,
    load_all_tables,
    make_engine,
    normalize_database_url,
    upgrade_to_head,
)

EXPECTED_TABLES = {
    "app_user",
    "audit_event",
    "customer",
    "customer_code_counter",
    "customer_contact",
    "document",
    "ingest_run",
    "integrity_finding",
    "integrity_run",
    "login_attempt",
    "option_item",
    "web_session",
}

# Search tables and indexes that the models cannot declare (SQLite FTS5, PostgreSQL expression,
# trigram and descending indexes); the migrations create them.
_NOT_IN_MODELS = (
    "document_fts",
    "ix_document_search_trgm",
    "ix_customer_trgm_",
    "ix_customer_contact_trgm_",
    "ix_customer_amount_desc",
)


def _tables(engine: Engine) -> set[str]:
    names = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    return {n for n in names if not n.startswith(_NOT_IN_MODELS)}


def _model_tables() -> set[str]:
    return set(load_all_tables().tables)


def test_upgrade_to_head_and_downgrade_to_base(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        upgrade_to_head(engine)
        assert current_revision(engine) == head_revision()
        assert EXPECTED_TABLES <= _tables(engine) == _model_tables()
        downgrade_to(engine, revision="base")
        assert current_revision(engine) is None
        assert _tables(engine) == set()
        upgrade_to_head(engine)  # and up again from an emptied database
        assert _tables(engine) == _model_tables()
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op_and_accepts_a_url(db_url: str) -> None:
    upgrade_to_head(db_url)
    upgrade_to_head(db_url)
    assert current_revision(db_url) == head_revision()


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, _type, _parent: (
                    not (name or "").startswith(_NOT_IN_MODELS)
                ),
            },
        )
        diff = compare_metadata(context, load_all_tables())
    assert diff == []


def test_required_indexes_exist(engine: Engine) -> None:
    indexed = {tuple(ix["column_names"]) for ix in sa.inspect(engine).get_indexes("document")}
    for column in (
        "status",
        "customer_id",
        "original_sha256",
        "pdf_sha256",
        "document_type",
        "created_at",
    ):
        assert (column,) in indexed, column


def test_normalize_database_url_rewrites_postgresql_to_psycopg() -> None:
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_engine_enforces_foreign_keys_and_uses_wal(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'd.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    finally:
        engine.dispose()


def test_workers_starting_together_migrate_once(db_url: str) -> None:
    """Four processes run ``upgrade_to_head`` on one empty database at once (workers starting
    together): every one succeeds, the schema is at head once (advisory lock on PostgreSQL,
    BEGIN IMMEDIATE on SQLite)."""
    code = "import sys; from models.db import upgrade_to_head; upgrade_to_head(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=240)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n".join(errors)[-3000:]
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from alembic_version")).scalar() == 1
            assert EXPECTED_TABLES <= set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
