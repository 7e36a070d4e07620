"""Schema for filing (issue 6): indexed customer name key, document text fingerprint.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

- ``customer.name_key``: the name in matching form (NFKC, unified brackets, no spaces), with
  an index, so linking a document by name is one indexed lookup instead of a scan of every
  customer. Kept in sync by ``models.customer`` (ORM flush events); existing rows are
  backfilled here with the same rule, copied so this file never depends on application code.
- ``customer.legal_representative_key``: the 法定代表人 in the same form, indexed: an ID card
  is linked to the company whose legal representative has the name printed on it.
- ``document.text_fingerprint``: a 256-bit simhash of the OCR text (64 hex digits) for
  near-duplicate search (``archive.dedupe``). Existing documents are left empty; they are
  compared by their key fields and PDF digest only.
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As models.customer.normalize_customer_name at 0005.
_BRACKETS = str.maketrans({"（": "(", "）": ")", "【": "[", "】": "]", "　": " "})


def _name_key(name: str | None) -> str:
    text = unicodedata.normalize("NFKC", name or "").translate(_BRACKETS)
    return "".join(text.split())


def _backfill_name_keys() -> None:
    bind = op.get_bind()
    customer = sa.table(
        "customer",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
        sa.column("legal_representative", sa.String),
        sa.column("legal_representative_key", sa.String),
    )
    rows = bind.execute(
        sa.select(customer.c.id, customer.c.name, customer.c.legal_representative)
    ).all()
    for row_id, name, rep in rows:
        bind.execute(
            sa.update(customer)
            .where(customer.c.id == row_id)
            .values(name_key=_name_key(name), legal_representative_key=_name_key(rep) or None)
        )


def upgrade() -> None:
    op.add_column("customer", sa.Column("name_key", sa.String(length=200), nullable=True))
    op.add_column(
        "customer", sa.Column("legal_representative_key", sa.String(length=100), nullable=True)
    )
    _backfill_name_keys()
    op.create_index(op.f("ix_customer_name_key"), "customer", ["name_key"])
    op.create_index(
        op.f("ix_customer_legal_representative_key"), "customer", ["legal_representative_key"]
    )
    op.add_column("document", sa.Column("text_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35): a batch copy would drop the FTS triggers of 0002.
    op.drop_column("document", "text_fingerprint")
    op.drop_index(op.f("ix_customer_legal_representative_key"), table_name="customer")
    op.drop_index(op.f("ix_customer_name_key"), table_name="customer")
    op.drop_column("customer", "legal_representative_key")
    op.drop_column("customer", "name_key")
