"""Search grams of customers: one- and two-character search by index (issue 15).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

``customer_gram`` (``models.search_gram``): per customer, every character and pair of adjacent
characters of its name key, contact person and contacts' names that holds a non-ASCII
character; primary key ``(gram, customer_id)`` (the look-up reads the index only), an index on
``customer_id`` (the upkeep rewrites one customer's rows), rows deleted with their customer.
Both databases. Existing customers are filled here (``fill_search_grams``, the repository's
own rule), then PostgreSQL gets fresh statistics so the planner uses the new index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from models.repo.search_grams import fill_search_grams

    op.create_table(
        "customer_gram",
        sa.Column("gram", sa.String(length=2), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_gram_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("gram", "customer_id", name=op.f("pk_customer_gram")),
    )
    op.create_index(
        op.f("ix_customer_gram_customer_id"), "customer_gram", ["customer_id"], unique=False
    )
    bind = op.get_bind()
    fill_search_grams(bind)
    if bind.dialect.name == "postgresql":
        op.execute("ANALYZE customer_gram")


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_gram_customer_id"), table_name="customer_gram")
    op.drop_table("customer_gram")
