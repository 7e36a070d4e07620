"""Personal API tokens and API uploads (issue 13, item 1): the REST API under /api/v1.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

``api_token``: one row per personal token, keyed by the SHA-256 of the random token (the token
itself is never stored), with its user, name, creator, optional expiry, last use and
revocation. ``api_upload``: one row per file handed in through the API, unique per user and
``Idempotency-Key``, with the dropped bytes' SHA-256 by which its document is found.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_api_token_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_token_token_sha256")),
    )
    op.create_index(op.f("ix_api_token_user_id"), "api_token", ["user_id"])
    op.create_table(
        "api_upload",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=255), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("customer_code", sa.String(length=32), nullable=True),
        sa.Column("document_type", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_api_upload_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_upload")),
        sa.UniqueConstraint("user_id", "idempotency_key", name=op.f("uq_api_upload_user_id")),
    )
    op.create_index(op.f("ix_api_upload_user_id"), "api_upload", ["user_id"])
    op.create_index(op.f("ix_api_upload_sha256"), "api_upload", ["sha256"])


def downgrade() -> None:
    op.drop_index(op.f("ix_api_upload_sha256"), table_name="api_upload")
    op.drop_index(op.f("ix_api_upload_user_id"), table_name="api_upload")
    op.drop_table("api_upload")
    op.drop_index(op.f("ix_api_token_user_id"), table_name="api_token")
    op.drop_table("api_token")
