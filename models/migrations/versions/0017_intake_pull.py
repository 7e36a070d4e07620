"""The shared S3 intake (issue 14, item 4): one claim row per object pulled from the prefix.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

``intake_pull``: unique per (object key, version); the insert is the claim across machines.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_pull",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_key", sa.String(length=1024), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("lease", sa.String(length=32), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adopted_from", sa.String(length=200), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("local_path", sa.String(length=1024), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('claimed', 'pulled', 'done', 'refused', 'vanished')",
            name=op.f("ck_intake_pull_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_pull")),
        sa.UniqueConstraint("object_key", "version", name="uq_intake_pull_object"),
    )
    op.create_index(op.f("ix_intake_pull_state"), "intake_pull", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_intake_pull_state"), table_name="intake_pull")
    op.drop_table("intake_pull")
