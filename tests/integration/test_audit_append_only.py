"""The audit table refuses every way of changing a row, on SQLite and PostgreSQL, from any
client: UPDATE, DELETE, REPLACE / INSERT OR REPLACE, upsert, and the bare sqlite3 module."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import repo
from models.db import make_engine, upgrade_to_head

ROW = "(:id, CURRENT_TIMESTAMP, 'mallory', 'forged', 'document', '1')"
COLUMNS = "(id, at, actor, action, entity_type, entity_id)"


def _first_event(engine: Engine) -> int:
    with Session(engine) as session:
        repo.add_audit_event(
            session, actor="alice", action="document.create", entity_type="document", entity_id=1
        )
        session.commit()
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT min(id) FROM audit_event")).scalar_one())


def _statements(dialect: str) -> list[str]:
    common = [
        "UPDATE audit_event SET actor = 'mallory' WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
        f"INSERT INTO audit_event {COLUMNS} VALUES {ROW} "
        "ON CONFLICT (id) DO UPDATE SET actor = excluded.actor",
    ]
    if dialect == "sqlite":
        common += [
            f"REPLACE INTO audit_event {COLUMNS} VALUES {ROW}",
            f"INSERT OR REPLACE INTO audit_event {COLUMNS} VALUES {ROW}",
        ]
    return common


def _actors(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT id, actor FROM audit_event"))]


def test_no_statement_changes_an_audit_row(engine: Engine) -> None:
    event_id = _first_event(engine)
    before = _actors(engine)
    for statement in _statements(engine.dialect.name):
        with pytest.raises(sa.exc.DatabaseError), engine.begin() as conn:
            conn.execute(sa.text(statement), {"id": event_id})
        assert _actors(engine) == before, statement


def test_the_bare_sqlite3_module_cannot_replace_an_audit_row(tmp_path: Path) -> None:
    """The sqlite3 module writes SQLite files only: this runs once, on its own SQLite file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    upgrade_to_head(engine)
    event_id = _first_event(engine)
    before = _actors(engine)
    conn = sqlite3.connect(engine.url.database, isolation_level=None)
    try:
        for statement in _statements("sqlite"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement.replace(":id", str(event_id)))
    finally:
        conn.close()
    assert _actors(engine) == before
    engine.dispose()
