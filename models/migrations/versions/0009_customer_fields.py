"""Customers: the standard's business, service and marketing fields and a version (issue 15).

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-06

Adds to ``customer`` the cooperation dates, cumulative amount (Numeric(14, 2), 元), decision
roles and campaigns (JSON lists), follow-up status, complaint count and type, last service date,
satisfaction (1-5) and ``version`` (optimistic concurrency; existing rows start at 1).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("first_cooperation_date", sa.Date(), True, None),
    ("latest_cooperation_date", sa.Date(), True, None),
    ("cumulative_amount", sa.Numeric(14, 2), True, None),
    ("decision_roles", sa.JSON(), False, "[]"),
    ("follow_up_status", sa.String(length=64), True, None),
    ("complaint_count", sa.Integer(), True, None),
    ("complaint_type", sa.String(length=64), True, None),
    ("last_service_date", sa.Date(), True, None),
    ("satisfaction", sa.Integer(), True, None),
    ("campaigns", sa.JSON(), False, "[]"),
    ("version", sa.Integer(), False, "1"),
)


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        for name, type_, nullable, default in _COLUMNS:
            server_default = sa.text(f"'{default}'") if default else None
            batch.add_column(
                sa.Column(name, type_, nullable=nullable, server_default=server_default)
            )


def downgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        for name, *_ in reversed(_COLUMNS):
            batch.drop_column(name)
