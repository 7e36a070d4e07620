"""Documents (资料): one normalized PDF and its original bytes, with OCR text and extracted fields.

JSON columns (shapes documented in docs/data-model.md):

- ``fields``: ``{field_name: {"value": str | None, "confidence": float | None,
  "page": int | None, "reason": str | None}}``. Keys starting with ``_`` are bookkeeping
  (for example ``_candidates``: customer codes when the customer was ambiguous).
- ``review_reasons``: a list of reason codes (``config/taxonomy.toml`` ``[review_reasons]``).
  ``is_anomaly`` is derived from it (any reason other than the soft ``second_check``) and
  stored so the review queue can order by it through an index; ``models.repo`` keeps the two
  in sync (:func:`has_anomaly`).

Versions: a new version of a document points at the one it replaces (``supersedes_id``);
the replaced one gets status ``superseded``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from sqlmodel import Field, SQLModel

from config.taxonomy import Taxonomy, load_taxonomy
from models.customer import Customer  # noqa: F401  (customer_id's foreign key target)
from models.db import UTCDateTime, utcnow
from models.errors import ValidationError
from models.validation import field_label, validate_date


class DocumentStatus(StrEnum):
    """资料状态. Labels live in the taxonomy (``[document_statuses]``)."""

    PENDING_REVIEW = "pending_review"  # 待审核
    ARCHIVED = "archived"  # 已归档
    UPDATING = "updating"  # 更新中
    REJECTED = "rejected"  # 已驳回
    SUPERSEDED = "superseded"  # 已替换


DOCUMENT_STATUS_VALUES = tuple(s.value for s in DocumentStatus)
#: Review reasons that do not make a document an anomaly (a routine second look).
SOFT_REVIEW_REASONS = frozenset({"second_check"})
#: Statuses of documents waiting for a reviewer (the review queue).
QUEUE_STATUSES = (DocumentStatus.PENDING_REVIEW.value, DocumentStatus.UPDATING.value)
#: Columns copied into the queue index so the queue's filters and counts never read the table.
QUEUE_INDEX_INCLUDE = ("customer_id", "document_type", "submitted_by", "review_reasons")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Document(SQLModel, table=True):
    """A document in the archive. ``customer_id`` stays empty until the document is linked."""

    __tablename__ = "document"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending_review', 'archived', 'updating', 'rejected', 'superseded')",
            name="status",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    document_type: str = Field(max_length=32, index=True)
    status: str = Field(default=DocumentStatus.PENDING_REVIEW.value, max_length=16, index=True)
    submitted_date: date
    original_filename: str = Field(max_length=255)
    # Indexed by migration 0003 (look-ups by object key).
    original_key: str | None = Field(default=None, max_length=1024, index=True)
    original_sha256: str = Field(max_length=64, index=True)
    original_size: int = Field(sa_type=sa.BigInteger)
    pdf_key: str | None = Field(default=None, max_length=1024, index=True)
    pdf_sha256: str | None = Field(default=None, max_length=64, index=True)
    pdf_size: int | None = Field(default=None, sa_type=sa.BigInteger)
    page_count: int | None = None
    ocr_text: str | None = Field(default=None, sa_type=sa.Text)
    ocr_confidence: float | None = None
    # Simhash of the OCR text (archive.dedupe, migration 0005): near-duplicate search.
    text_fingerprint: str | None = Field(default=None, max_length=64)
    fields: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    review_reasons: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Derived from review_reasons (migration 0004); written by models.repo only.
    is_anomaly: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    supersedes_id: int | None = Field(default=None, foreign_key="document.id", index=True)
    ingest_run_id: str | None = Field(
        default=None, max_length=36, index=True
    )  # no FK: runs may be recorded later
    claim_id: str | None = Field(default=None, max_length=64)
    submitted_by: str | None = Field(default=None, max_length=64)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Review claim expiry (migration 0002): a claim past this time can be taken over.
    claim_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by: str | None = Field(default=None, max_length=64)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def in_queue() -> sa.ColumnElement[bool]:
    """``document.status IN ('pending_review', 'updating')`` with the values written inline.

    Inline values (not bound parameters) let PostgreSQL match the partial index
    ``ix_document_queue`` even in a prepared statement's generic plan.
    """
    statuses = sa.bindparam("queue_statuses", list(QUEUE_STATUSES), expanding=True)
    return Document.__table__.c.status.in_(statuses.render_literal_execute())  # type: ignore[attr-defined]


# The review queue, in its order: anomalies first, then oldest. Partial (queue statuses only,
# so archived documents never weigh on it) and covering (QUEUE_INDEX_INCLUDE): the page's ids,
# the total and the counts per reason come from the index alone (migration 0004).
sa.Index(
    "ix_document_queue",
    Document.__table__.c.is_anomaly.desc(),  # type: ignore[attr-defined]
    Document.__table__.c.created_at,  # type: ignore[attr-defined]
    Document.__table__.c.id,  # type: ignore[attr-defined]
    postgresql_include=list(QUEUE_INDEX_INCLUDE),
    postgresql_where=sa.text("status IN ('pending_review', 'updating')"),
    sqlite_where=sa.text("status IN ('pending_review', 'updating')"),
)

#: Columns that ``repo.update_document`` may change (identity and bytes never change).
UPDATABLE_FIELDS = frozenset(
    {
        "customer_id",
        "document_type",
        "status",
        "pdf_key",
        "original_key",
        "fields",
        "review_reasons",
        "supersedes_id",
        "claimed_by",
        "claimed_at",
        "reviewed_by",
        "reviewed_at",
        "submitted_date",  # corrected in review (archive.review.correct moves the objects)
        "claim_expires_at",
        "ocr_text",
        "ocr_confidence",
    }
)


def has_anomaly(reasons: Iterable[str] | None) -> bool:
    """Whether review reasons make a document an anomaly (any reason not in the soft set).

    Example:
        ``has_anomaly(["second_check"])`` is False; ``has_anomaly(["expired"])`` is True.
    """
    return any(r not in SOFT_REVIEW_REASONS for r in reasons or ())


def _fail(field: str, reason: str, what: str) -> ValidationError:
    return ValidationError(f"{field_label(field)}{what}", field=field, reason=reason)


def check_sha256(field: str, value: Any) -> str:
    """A lower-case hex SHA-256, or a ValidationError naming ``field``."""
    s = str(value or "").strip().lower()
    if not _SHA256.fullmatch(s):
        raise _fail(field, "sha256_format", "应为64位十六进制SHA-256")
    return s


def check_document_type(value: Any, taxonomy: Taxonomy) -> str:
    """A document type code from the taxonomy (a Chinese label is accepted and converted)."""
    s = str(value or "").strip()
    codes = {dt.code for dt in taxonomy.document_types}
    if s in codes:
        return s
    by_label = taxonomy.document_type_by_label(s)
    if by_label is not None:
        return by_label.code
    labels = "、".join(dt.label for dt in taxonomy.document_types)
    raise _fail("document_type", "option_unknown", f"的选项“{s}”无效，可选：{labels}")


def check_document_status(value: Any) -> str:
    """A document status code, or a ValidationError."""
    s = str(value or "").strip()
    if s not in DOCUMENT_STATUS_VALUES:
        raise _fail("status", "option_unknown", f"的选项“{s}”无效")
    return s


def check_json_fields(value: Any) -> dict[str, Any]:
    """Extracted fields: a mapping with string keys (values must be JSON-serializable)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _fail("fields", "json_shape", "应为以字段名为键的对象")
    return dict(value)


def check_reasons(value: Any) -> list[str]:
    """Review reasons: a list of codes, duplicates removed, order kept."""
    if value is None:
        return []
    if isinstance(value, str) or not all(isinstance(r, str) for r in value):
        raise _fail("review_reasons", "json_shape", "应为原因代码列表")
    return list(dict.fromkeys(value))


def _nonnegative(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(field, "range", "应为非负整数")
    return value


def _normalize_name(value: Any) -> str:
    s = unicodedata.normalize("NFC", str(value or "")).strip()
    if not s:
        raise _fail("original_filename", "required", "不能为空")
    return s


class DocumentCreate(BaseModel):
    """Values for a new document row, validated on construction (raises our ValidationError).

    Pass a taxonomy other than the default with ``context={"taxonomy": taxonomy}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: int | None = None
    document_type: str
    status: str = DocumentStatus.PENDING_REVIEW.value
    submitted_date: date
    original_filename: str
    original_key: str | None = None
    original_sha256: str
    original_size: int
    pdf_key: str | None = None
    pdf_sha256: str | None = None
    pdf_size: int | None = None
    page_count: int | None = None
    ocr_text: str | None = None
    ocr_confidence: float | None = None
    text_fingerprint: str | None = None
    fields: dict[str, Any] = {}
    review_reasons: list[str] = []
    supersedes_id: int | None = None
    ingest_run_id: str | None = None
    claim_id: str | None = None
    submitted_by: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _validate(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return data
        context = info.context if isinstance(info.context, Mapping) else {}
        taxonomy = context.get("taxonomy") or load_taxonomy()
        out = dict(data)
        unknown = set(out) - set(cls.model_fields)
        if unknown:
            raise _fail(sorted(unknown)[0], "unknown_field", "不是资料的字段")
        out["document_type"] = check_document_type(out.get("document_type"), taxonomy)
        out["status"] = check_document_status(out.get("status") or "pending_review")
        out["submitted_date"] = validate_date(out.get("submitted_date"), "submitted_date")
        out["original_filename"] = _normalize_name(out.get("original_filename"))
        out["original_sha256"] = check_sha256("original_sha256", out.get("original_sha256"))
        if out.get("pdf_sha256") is not None:
            out["pdf_sha256"] = check_sha256("pdf_sha256", out["pdf_sha256"])
        for name in ("original_size", "pdf_size", "page_count"):
            out[name] = _nonnegative(name, out.get(name))
        if out["original_size"] is None:
            raise _fail("original_size", "required", "不能为空")
        out["fields"] = check_json_fields(out.get("fields"))
        out["review_reasons"] = check_reasons(out.get("review_reasons"))
        return out


class DocumentPublic(BaseModel):
    """A document as scripts see it (``--json``): everything but the OCR text."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int | None
    document_type: str
    status: str
    submitted_date: date
    original_filename: str
    original_key: str | None
    original_sha256: str
    original_size: int
    pdf_key: str | None
    pdf_sha256: str | None
    pdf_size: int | None
    page_count: int | None
    ocr_confidence: float | None
    fields: dict[str, Any]
    review_reasons: list[str]
    supersedes_id: int | None
    ingest_run_id: str | None
    submitted_by: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    created_at: datetime
    updated_at: datetime
