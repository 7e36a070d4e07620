"""Notifications sent (issue 13, item 3): never the same notification twice.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-06

``notification_sent``: one row per delivered notification, unique per event key, channel and
recipient.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=300), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_sent")),
        sa.UniqueConstraint("event_key", "channel", "recipient", name="uq_notification_sent_event"),
    )
    op.create_index(op.f("ix_notification_sent_document_id"), "notification_sent", ["document_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notification_sent_document_id"), table_name="notification_sent")
    op.drop_table("notification_sent")
