"""Audit trail: refuse REPLACE (issue 11, item 8).

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06

SQLite's ``REPLACE INTO`` / ``INSERT OR REPLACE`` resolve a primary-key conflict by deleting
the old row without firing its DELETE trigger (recursive triggers are off), so 0001's guards
let an audit row be overwritten. A BEFORE INSERT trigger runs before conflict resolution and
refuses any insert whose id is already taken, whatever the conflict clause. PostgreSQL has no
REPLACE; its upsert (``ON CONFLICT DO UPDATE``) fires 0001's UPDATE guard, and the same
BEFORE INSERT guard is added there so both databases refuse in the same words.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUDIT_REFUSAL = "audit_event is append-only"

_SQLITE = [
    f"""CREATE TRIGGER audit_event_no_replace BEFORE INSERT ON audit_event
    WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, '{_AUDIT_REFUSAL}'); END"""
]

_POSTGRESQL = [
    f"""CREATE FUNCTION audit_event_refuse_replace() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id) THEN
            RAISE EXCEPTION '{_AUDIT_REFUSAL}' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END
    $$""",
    """CREATE TRIGGER audit_event_no_replace BEFORE INSERT ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_replace()""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE, "postgresql": _POSTGRESQL}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_replace")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_replace ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_refuse_replace()")
