"""Schema for the web UI (H2): a stored anomaly flag and an index for the review queue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

The queue lists pending documents anomalies first, then oldest. Computing "anomaly" from the
``review_reasons`` JSON in ``ORDER BY`` made every page sort all pending rows, so it is stored:

- ``document.is_anomaly``: true when ``review_reasons`` holds any code other than the soft
  ``second_check`` (kept in sync by ``models.repo``; existing rows are backfilled here).
- ``ix_document_queue`` on ``(is_anomaly DESC, created_at, id)``, partial (``WHERE status IN
  ('pending_review', 'updating')``) and on PostgreSQL covering (``INCLUDE (customer_id,
  document_type, submitted_by, review_reasons)``): the queue's order, filters and counts are
  answered from the index; archived documents never enter it.

Plain SQL and SQLAlchemy types, as in 0001, so this file never depends on application code.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE_INDEX_COLUMNS = [sa.text("is_anomaly DESC"), "created_at", "id"]
QUEUE_INDEX_INCLUDE = ["customer_id", "document_type", "submitted_by", "review_reasons"]
QUEUE_PREDICATE = "status IN ('pending_review', 'updating')"

# Reasons that do not make an anomaly, as in models.document.SOFT_REVIEW_REASONS at 0004.
_SOFT = "('second_check')"

_BACKFILL = {
    "sqlite": (
        "UPDATE document SET is_anomaly = EXISTS (SELECT 1 FROM json_each(review_reasons) AS r "
        f"WHERE r.value NOT IN {_SOFT}) "
        "WHERE json_valid(review_reasons) AND json_type(review_reasons) = 'array'"
    ),
    "postgresql": (
        "UPDATE document SET is_anomaly = EXISTS (SELECT 1 FROM "
        f"json_array_elements_text(review_reasons) AS r(value) WHERE r.value NOT IN {_SOFT}) "
        "WHERE json_typeof(review_reasons) = 'array'"
    ),
}


def upgrade() -> None:
    op.add_column(
        "document",
        sa.Column("is_anomaly", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    backfill = _BACKFILL.get(op.get_bind().dialect.name)
    if backfill:
        op.execute(backfill)
    op.create_index(
        "ix_document_queue",
        "document",
        QUEUE_INDEX_COLUMNS,
        postgresql_include=QUEUE_INDEX_INCLUDE,
        postgresql_where=sa.text(QUEUE_PREDICATE),
        sqlite_where=sa.text(QUEUE_PREDICATE),
    )


def downgrade() -> None:
    op.drop_index("ix_document_queue", table_name="document")
    # Plain ALTER TABLE (SQLite >= 3.35): a batch copy would drop the FTS triggers of 0002.
    op.drop_column("document", "is_anomaly")
