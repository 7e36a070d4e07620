"""Runs of the ingestion pipeline and of the integrity checker, and the checker's findings.

``counts`` is a JSON object of integers, e.g. ``{"archived": 3, "needs_review": 1}`` for an
ingest run or ``{"checked": 120, "critical": 0}`` for an integrity run. A finding's
``fingerprint`` is stable across runs (kind + object key + document id), so runs can be
compared: new, still open, resolved.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow
from models.document import Document  # noqa: F401  (document_id's foreign key target)


def new_run_id() -> str:
    """A fresh run id (a UUID4 as 36-character text)."""
    return str(uuid.uuid4())


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class FindingStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    RESOLVED = "resolved"


class IngestRun(SQLModel, table=True):
    """One pass of the ingestion pipeline over the intake folder."""

    __tablename__ = "ingest_run"

    id: str = Field(default_factory=new_run_id, primary_key=True, max_length=36)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=RunStatus.RUNNING.value, max_length=16)
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    host: str | None = Field(default=None, max_length=255)


class IntegrityRun(SQLModel, table=True):
    """One pass of the integrity checker (``mode``: e.g. ``quick`` or ``scrub``)."""

    __tablename__ = "integrity_run"

    id: str = Field(default_factory=new_run_id, primary_key=True, max_length=36)
    mode: str = Field(max_length=16)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=RunStatus.RUNNING.value, max_length=16)
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class IntegrityFinding(SQLModel, table=True):
    """Something the integrity checker found (a missing object, a checksum mismatch, ...)."""

    __tablename__ = "integrity_finding"
    __table_args__ = (
        sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity"),
        sa.CheckConstraint("status IN ('new', 'open', 'resolved')", name="status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="integrity_run.id", index=True, max_length=36)
    severity: str = Field(max_length=16)
    kind: str = Field(max_length=64)
    document_id: int | None = Field(default=None, foreign_key="document.id", index=True)
    object_key: str | None = Field(default=None, max_length=1024)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    fingerprint: str = Field(max_length=64, index=True)
    status: str = Field(default=FindingStatus.NEW.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- integrity: per-object verification state (migration 0003) --------------------------------


class ObjectVerification(SQLModel, table=True):
    """When an object's bytes were last hashed and found equal to its record (rolling scrub).

    Written by ``archive.integrity`` only after every content check of the object passed, so
    an object with a problem is never "fresh" and the incremental mode reads it again each run.

    ``pdf_pages`` and ``pdf_text`` (migration 0006) are what pypdf found in the bytes whose
    digest is ``sha256``: the page count, and whether a page shows text (None: not looked for).
    Both None when pypdf did not open these bytes. Later runs that hash the same digest judge
    the record against these facts instead of opening the PDF again.
    """

    __tablename__ = "object_verification"

    key: str = Field(primary_key=True, max_length=1024)
    sha256: str = Field(max_length=64)
    size: int = Field(sa_type=sa.BigInteger)
    verified_at: datetime = Field(sa_type=UTCDateTime, index=True)
    pdf_pages: int | None = Field(default=None)
    pdf_text: bool | None = Field(default=None)


# The orphan check and filing look documents up by object key (migration 0003).
sa.Index("ix_document_pdf_key", Document.pdf_key)  # type: ignore[arg-type]
sa.Index("ix_document_original_key", Document.original_key)  # type: ignore[arg-type]
