"""Schema for the review service (H1): full-text search, login attempts, review claims.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

- ``document.claim_expires_at``: when a reviewer's claim runs out.
- ``login_attempt``: sign-in attempts per username (login throttling across processes).
- Full-text search over OCR text, extracted field values and the original file name, kept in
  sync by the database itself:
  SQLite: FTS5 table ``document_fts`` (trigram tokenizer) filled by triggers on ``document``.
  PostgreSQL: extension ``pg_trgm`` and a GIN ``gin_trgm_ops`` expression index on the
  immutable function ``dossier_search_text(ocr_text, fields, original_filename)``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sqlite_body(row: str) -> str:
    """The text indexed for one document row (``NEW``, ``document``), as an SQLite expression."""
    fields = (
        f"CASE WHEN json_valid({row}.fields) AND json_type({row}.fields) = 'object' "
        f"THEN {row}.fields ELSE '{{}}' END"
    )
    values = (
        "SELECT group_concat(CASE WHEN j.type = 'object' THEN json_extract(j.value, '$.value') "
        "WHEN j.type = 'text' THEN j.value END, ' ') "
        f"FROM json_each({fields}) AS j WHERE substr(j.key, 1, 1) <> '_'"
    )
    return (
        f"coalesce({row}.ocr_text, '') || ' ' || coalesce({row}.original_filename, '') "
        f"|| ' ' || coalesce(({values}), '')"
    )


def _sqlite_statements() -> list[str]:
    body = _sqlite_body("NEW")
    return [
        "CREATE VIRTUAL TABLE document_fts USING fts5(body, tokenize = 'trigram')",
        f"""CREATE TRIGGER document_fts_insert AFTER INSERT ON document BEGIN
            INSERT INTO document_fts(rowid, body) VALUES (NEW.id, {body}); END""",
        f"""CREATE TRIGGER document_fts_update AFTER UPDATE OF ocr_text, fields, original_filename
            ON document BEGIN
            DELETE FROM document_fts WHERE rowid = OLD.id;
            INSERT INTO document_fts(rowid, body) VALUES (NEW.id, {body}); END""",
        """CREATE TRIGGER document_fts_delete AFTER DELETE ON document BEGIN
            DELETE FROM document_fts WHERE rowid = OLD.id; END""",
        "INSERT INTO document_fts(rowid, body) "
        f"SELECT id, {_sqlite_body('document')} FROM document",
    ]


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION dossier_search_text(ocr text, fields json, filename text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT concat_ws(' ', ocr, filename, (
        SELECT string_agg(
            CASE jsonb_typeof(e.value)
                WHEN 'object' THEN e.value ->> 'value'
                WHEN 'string' THEN e.value #>> '{}'
            END, ' ')
        FROM jsonb_each(
            CASE WHEN jsonb_typeof(fields::jsonb) = 'object' THEN fields::jsonb
                 ELSE '{}'::jsonb END) AS e
        WHERE left(e.key, 1) <> '_'))
$$
"""

_PG_STATEMENTS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    _PG_FUNCTION,
    """CREATE INDEX ix_document_search_trgm ON document USING gin
       (dossier_search_text(ocr_text, fields, original_filename) gin_trgm_ops)""",
]


def _create_search() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _sqlite_statements(), "postgresql": _PG_STATEMENTS}.get(dialect, [])
    for statement in statements:
        op.execute(statement)


def _drop_search() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS document_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS document_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_document_search_trgm")
        op.execute("DROP FUNCTION IF EXISTS dossier_search_text(text, json, text)")
        # pg_trgm stays: other objects may use it, and dropping extensions needs more rights.


def upgrade() -> None:
    op.add_column(
        "document", sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    op.create_index("ix_login_attempt_username_at", "login_attempt", ["username", "at"])
    _create_search()


def downgrade() -> None:
    _drop_search()
    op.drop_index("ix_login_attempt_username_at", table_name="login_attempt")
    op.drop_table("login_attempt")
    op.drop_column("document", "claim_expires_at")
