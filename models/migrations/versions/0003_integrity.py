"""Schema for integrity checks (G): per-object verification state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

``object_verification`` remembers when each object's bytes were last hashed and matched its
record, so the incremental check re-hashes only objects not verified within ``scrub_days``.
Also indexes ``document.pdf_key`` and ``original_key`` (look-ups by key). Plain SQLAlchemy
types, as in 0001, so this file never depends on application code.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "object_verification",
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_object_verification")),
    )
    op.create_index(
        op.f("ix_object_verification_verified_at"),
        "object_verification",
        ["verified_at"],
        unique=False,
    )
    # Look-ups by object key (orphan check, filing's collision check).
    op.create_index(op.f("ix_document_pdf_key"), "document", ["pdf_key"], unique=False)
    op.create_index(op.f("ix_document_original_key"), "document", ["original_key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_document_original_key"), table_name="document")
    op.drop_index(op.f("ix_document_pdf_key"), table_name="document")
    op.drop_index(op.f("ix_object_verification_verified_at"), table_name="object_verification")
    op.drop_table("object_verification")
