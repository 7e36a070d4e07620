"""A user's e-mail address (issue 13, item 3): notifications reach owners, submitters, roles.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

``app_user.email``: optional; set by an admin (CLI ``users set-email``, the users page),
validated like a customer's e-mail.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    op.drop_column("app_user", "email")  # plain ALTER TABLE (SQLite >= 3.35), like 0005
