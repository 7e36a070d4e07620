"""The customer list at scale, and option lists edited by admins (issue 15).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

- Search (``archive.customer_query.text_condition``: a substring of the name key, code, USCC,
  contact person, phone or a contact's name). PostgreSQL: trigram GIN indexes
  (``gin_trgm_ops``, extension ``pg_trgm`` from 0002) on those six columns, so a ``LIKE
  '%…%'`` of three characters or more is an index look-up instead of a scan. SQLite has no
  trigram index for plain columns: nothing is created there (its scans are fast at the sizes
  SQLite is meant for).
- Sorting: ``(updated_at, id)`` (the list's default order, either direction) and
  ``(cumulative_amount, id)`` on both databases; on PostgreSQL also ``(cumulative_amount DESC
  NULLS LAST, id DESC)`` for "highest amount first" with customers without an amount last.
- ``option_item``: the option lists (客户所属行业, 客户来源 …) as edited by admins; a list
  with no rows here is the taxonomy file's (``models.option_item``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (index name, table, column): trigram indexes for substring search (PostgreSQL only).
TRGM_INDEXES = (
    ("ix_customer_trgm_name_key", "customer", "name_key"),
    ("ix_customer_trgm_code", "customer", "code"),
    ("ix_customer_trgm_uscc", "customer", "uscc"),
    ("ix_customer_trgm_contact_person", "customer", "contact_person"),
    ("ix_customer_trgm_phone", "customer", "phone"),
    ("ix_customer_contact_trgm_name", "customer_contact", "name"),
)
#: Every index this revision creates (bench/customers.py drops and rebuilds them by name).
INDEX_NAMES = (
    "ix_customer_updated_at_id",
    "ix_customer_cumulative_amount_id",
    "ix_customer_amount_desc",
    *(name for name, _table, _column in TRGM_INDEXES),
)


def index_statements(dialect: str) -> list[str]:
    """The SQL that creates this revision's indexes on ``dialect`` (then fresh statistics)."""
    out = [
        "CREATE INDEX ix_customer_updated_at_id ON customer (updated_at, id)",
        "CREATE INDEX ix_customer_cumulative_amount_id ON customer (cumulative_amount, id)",
    ]
    if dialect != "postgresql":
        return out
    return [
        *out,
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        *(f"CREATE INDEX {n} ON {t} USING gin ({c} gin_trgm_ops)" for n, t, c in TRGM_INDEXES),
        "CREATE INDEX ix_customer_amount_desc ON customer "
        "(cumulative_amount DESC NULLS LAST, id DESC)",
        # The planner needs fresh statistics to choose the new indexes on existing data.
        "ANALYZE customer",
        "ANALYZE customer_contact",
    ]


def upgrade() -> None:
    for statement in index_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.create_table(
        "option_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_retired", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_option_item")),
        sa.UniqueConstraint("list_key", "value", name="uq_option_item_list_key"),
    )


def downgrade() -> None:
    op.drop_table("option_item")
    for name in INDEX_NAMES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
