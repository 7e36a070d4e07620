"""Integrity: what pypdf found in verified PDF bytes (issue 5, full-check throughput).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

``object_verification.pdf_pages`` and ``pdf_text``: the page count pypdf found and whether a
page shows text (None: not looked for), for the bytes of digest ``sha256``. A later check that
hashes the same digest judges the record's page count and text layer against them instead of
opening the PDF with pypdf again. Existing rows get None, so their PDFs are opened once more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("object_verification", sa.Column("pdf_pages", sa.Integer(), nullable=True))
    op.add_column("object_verification", sa.Column("pdf_text", sa.Boolean(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35), as in 0005.
    op.drop_column("object_verification", "pdf_text")
    op.drop_column("object_verification", "pdf_pages")
