"""Initial schema: users, customers, contacts, documents, audit trail, runs and findings.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Column types are spelled with plain SQLAlchemy types (``UTCDateTime`` is a ``DateTime(timezone=
True)`` underneath) so that this file never depends on application code. The audit table gets
triggers that refuse UPDATE and DELETE on both SQLite and PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_AUDIT_REFUSAL = "audit_event is append-only"

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event
    BEGIN SELECT RAISE(ABORT, '{_AUDIT_REFUSAL}'); END"""
    for verb in ("UPDATE", "DELETE")
]

_POSTGRESQL_GUARD = [
    f"""CREATE FUNCTION audit_event_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_AUDIT_REFUSAL}' USING ERRCODE = 'insufficient_privilege';
    END
    $$""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()""",
]


def _create_audit_guard() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRESQL_GUARD}.get(dialect, [])
    for statement in statements:
        op.execute(statement)


def _drop_audit_guard() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_refuse_change()")


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('sales', 'reviewer', 'admin')", name=op.f("ck_app_user_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_action"), "audit_event", ["action"])
    op.create_index(op.f("ix_audit_event_actor"), "audit_event", ["actor"])
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"])
    op.create_index("ix_audit_event_entity", "audit_event", ["entity_type", "entity_id"])
    _create_audit_guard()
    op.create_table(
        "customer_code_counter",
        sa.Column("period", sa.String(length=6), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_customer_code_counter")),
    )
    op.create_table(
        "ingest_run",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_run")),
    )
    op.create_index(op.f("ix_ingest_run_started_at"), "ingest_run", ["started_at"])
    op.create_table(
        "integrity_run",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrity_run")),
    )
    op.create_index(op.f("ix_integrity_run_started_at"), "integrity_run", ["started_at"])
    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("customer_type", sa.String(length=32), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=True),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.Column("legal_representative", sa.String(length=100), nullable=True),
        sa.Column("established_date", sa.Date(), nullable=True),
        sa.Column("contact_person", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("industry", sa.String(length=64), nullable=True),
        sa.Column("scale", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("source_channel", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('prospect', 'interested', 'won', 'lost')", name=op.f("ck_customer_status")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["app_user.id"], name=op.f("fk_customer_owner_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("code", name=op.f("uq_customer_code")),
        sa.UniqueConstraint("id_number", name=op.f("uq_customer_id_number")),
        sa.UniqueConstraint("uscc", name=op.f("uq_customer_uscc")),
    )
    op.create_index(op.f("ix_customer_customer_type"), "customer", ["customer_type"])
    op.create_index(op.f("ix_customer_name"), "customer", ["name"])
    op.create_index(op.f("ix_customer_owner_id"), "customer", ["owner_id"])
    op.create_index(op.f("ix_customer_status"), "customer", ["status"])
    op.create_table(
        "customer_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=True),
        sa.Column("phones", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("is_decision_maker", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_customer_contact_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_contact")),
    )
    op.create_index(op.f("ix_customer_contact_customer_id"), "customer_contact", ["customer_id"])
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("document_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_date", sa.Date(), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("original_key", sa.String(length=1024), nullable=True),
        sa.Column("original_sha256", sa.String(length=64), nullable=False),
        sa.Column("original_size", sa.BigInteger(), nullable=False),
        sa.Column("pdf_key", sa.String(length=1024), nullable=True),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("pdf_size", sa.BigInteger(), nullable=True),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column("ocr_text", sa.Text(), nullable=True),
        sa.Column("ocr_confidence", sa.Float(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("review_reasons", sa.JSON(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("ingest_run_id", sa.String(length=36), nullable=True),
        sa.Column("claim_id", sa.String(length=64), nullable=True),
        sa.Column("submitted_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending_review', 'archived', 'updating', 'rejected', 'superseded')",
            name=op.f("ck_document_status"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_document_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["document.id"], name=op.f("fk_document_supersedes_id_document")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
    )
    op.create_index(op.f("ix_document_created_at"), "document", ["created_at"])
    op.create_index(op.f("ix_document_customer_id"), "document", ["customer_id"])
    op.create_index(op.f("ix_document_document_type"), "document", ["document_type"])
    op.create_index(op.f("ix_document_ingest_run_id"), "document", ["ingest_run_id"])
    op.create_index(op.f("ix_document_original_sha256"), "document", ["original_sha256"])
    op.create_index(op.f("ix_document_pdf_sha256"), "document", ["pdf_sha256"])
    op.create_index(op.f("ix_document_status"), "document", ["status"])
    op.create_index(op.f("ix_document_supersedes_id"), "document", ["supersedes_id"])
    op.create_table(
        "integrity_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("object_key", sa.String(length=1024), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'critical')",
            name=op.f("ck_integrity_finding_severity"),
        ),
        sa.CheckConstraint(
            "status IN ('new', 'open', 'resolved')", name=op.f("ck_integrity_finding_status")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_integrity_finding_document_id_document")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["integrity_run.id"], name=op.f("fk_integrity_finding_run_id_integrity_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrity_finding")),
    )
    op.create_index(op.f("ix_integrity_finding_document_id"), "integrity_finding", ["document_id"])
    op.create_index(op.f("ix_integrity_finding_fingerprint"), "integrity_finding", ["fingerprint"])
    op.create_index(op.f("ix_integrity_finding_run_id"), "integrity_finding", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_integrity_finding_run_id"), table_name="integrity_finding")
    op.drop_index(op.f("ix_integrity_finding_fingerprint"), table_name="integrity_finding")
    op.drop_index(op.f("ix_integrity_finding_document_id"), table_name="integrity_finding")
    op.drop_table("integrity_finding")
    op.drop_index(op.f("ix_document_supersedes_id"), table_name="document")
    op.drop_index(op.f("ix_document_status"), table_name="document")
    op.drop_index(op.f("ix_document_pdf_sha256"), table_name="document")
    op.drop_index(op.f("ix_document_original_sha256"), table_name="document")
    op.drop_index(op.f("ix_document_ingest_run_id"), table_name="document")
    op.drop_index(op.f("ix_document_document_type"), table_name="document")
    op.drop_index(op.f("ix_document_customer_id"), table_name="document")
    op.drop_index(op.f("ix_document_created_at"), table_name="document")
    op.drop_table("document")
    op.drop_index(op.f("ix_customer_contact_customer_id"), table_name="customer_contact")
    op.drop_table("customer_contact")
    op.drop_index(op.f("ix_customer_status"), table_name="customer")
    op.drop_index(op.f("ix_customer_owner_id"), table_name="customer")
    op.drop_index(op.f("ix_customer_name"), table_name="customer")
    op.drop_index(op.f("ix_customer_customer_type"), table_name="customer")
    op.drop_table("customer")
    op.drop_index(op.f("ix_integrity_run_started_at"), table_name="integrity_run")
    op.drop_table("integrity_run")
    op.drop_index(op.f("ix_ingest_run_started_at"), table_name="ingest_run")
    op.drop_table("ingest_run")
    op.drop_table("customer_code_counter")
    _drop_audit_guard()
    op.drop_index("ix_audit_event_entity", table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_at"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_actor"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_action"), table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_table("app_user")
