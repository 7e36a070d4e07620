"""The customer file: contacts' fields, follow-ups, cooperation records, tags (issue 15).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

``customer_contact`` gains gender, mobile, office phone, WeChat, responsibilities,
communication preference, relationship level and created/updated by. ``customer`` gains
``manual_fields`` (derived fields set by hand), ``level_reason``, ``annual_amount`` and
``value_tier``. New tables: ``customer_follow_up``, ``customer_cooperation``, ``tag`` and
``customer_tag``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONTACT_COLUMNS = (
    ("gender", sa.String(length=8), True, None),
    ("mobile", sa.String(length=32), True, None),
    ("office_phone", sa.String(length=32), True, None),
    ("wechat", sa.String(length=64), True, None),
    ("responsibilities", sa.String(length=500), True, None),
    ("communication_preference", sa.String(length=32), True, None),
    ("relationship_level", sa.String(length=32), True, None),
    ("created_by", sa.String(length=64), False, "system"),
    ("updated_by", sa.String(length=64), False, "system"),
)
_CUSTOMER_COLUMNS = (
    ("manual_fields", sa.JSON(), False, "[]"),
    ("level_reason", sa.String(length=500), True, None),
    ("annual_amount", sa.Numeric(14, 2), True, None),
    ("value_tier", sa.String(length=16), True, None),
)


def _add(table: str, columns: tuple) -> None:
    with op.batch_alter_table(table) as batch:
        for name, type_, nullable, default in columns:
            server_default = sa.text(f"'{default}'") if default else None
            batch.add_column(
                sa.Column(name, type_, nullable=nullable, server_default=server_default)
            )


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["customer_id"], ["customer.id"], name=op.f(f"fk_{table}_customer_id_customer")
    )


def _mark_typed_totals() -> None:
    """Totals already on a customer were typed by a person: keep them (``manual_fields``)."""
    names = ("cumulative_amount", "first_cooperation_date", "latest_cooperation_date")
    customer = sa.table(
        "customer",
        sa.column("id", sa.Integer()),
        sa.column("manual_fields", sa.JSON()),
        *(sa.column(n) for n in names),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(customer).where(sa.or_(*(customer.c[n].is_not(None) for n in names)))
    ).all()
    for row in rows:
        typed = [n for n in names if getattr(row, n) is not None]
        bind.execute(sa.update(customer).where(customer.c.id == row.id).values(manual_fields=typed))


def upgrade() -> None:
    _add("customer_contact", _CONTACT_COLUMNS)
    _add("customer", _CUSTOMER_COLUMNS)
    _mark_typed_totals()
    with op.batch_alter_table("customer") as batch:
        batch.create_index(op.f("ix_customer_value_tier"), ["value_tier"])
    op.create_table(
        "customer_follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("followed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("followed_by", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("next_step", sa.String(length=500), nullable=True),
        sa.Column("next_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=True),
        *_stamps(),
        _customer_fk("customer_follow_up"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_follow_up")),
    )
    op.create_index(
        "ix_customer_follow_up_customer_at", "customer_follow_up", ["customer_id", "followed_at"]
    )
    op.create_table(
        "customer_cooperation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("contract_no", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("signed_date", sa.Date(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("payment_terms", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _customer_fk("customer_cooperation"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_cooperation")),
    )
    op.create_index(
        op.f("ix_customer_cooperation_customer_id"), "customer_cooperation", ["customer_id"]
    )
    op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("is_retired", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag")),
        sa.UniqueConstraint("name", name=op.f("uq_tag_name")),
    )
    op.create_table(
        "customer_tag",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        *_stamps(),
        _customer_fk("customer_tag"),
        sa.ForeignKeyConstraint(["tag_id"], ["tag.id"], name=op.f("fk_customer_tag_tag_id_tag")),
        sa.PrimaryKeyConstraint("customer_id", "tag_id", name=op.f("pk_customer_tag")),
    )
    op.create_index("ix_customer_tag_tag_customer", "customer_tag", ["tag_id", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_customer_tag_tag_customer", table_name="customer_tag")
    op.drop_table("customer_tag")
    op.drop_table("tag")
    op.drop_index(op.f("ix_customer_cooperation_customer_id"), table_name="customer_cooperation")
    op.drop_table("customer_cooperation")
    op.drop_index("ix_customer_follow_up_customer_at", table_name="customer_follow_up")
    op.drop_table("customer_follow_up")
    with op.batch_alter_table("customer") as batch:
        batch.drop_index(op.f("ix_customer_value_tier"))
        for name, *_ in reversed(_CUSTOMER_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("customer_contact") as batch:
        for name, *_ in reversed(_CONTACT_COLUMNS):
            batch.drop_column(name)
