"""Schema for the review service (H1): full-text search, login attempts, review claims.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

A placeholder in the linear chain until its owner fills it in; it must stay in the chain.
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
