"""Uploads: refuse what the intake cannot read, hand the rest in, tell the uploader the outcome.

An upload is recorded nowhere twice. Its outcome is read from where the pipeline already keeps
it, matched by the submitter (and, for files still waiting, the drop sidecar's sha256):

- waiting: the file still in the uploader's intake folder beside its drop sidecar, or in the
  uploader's folder of the shared S3 intake beside its signed sidecar;
- processing: a claim in the work area whose manifest names the submitter;
- filed: the documents whose ``submitted_by`` is the uploader, grouped by the original bytes
  (``original_sha256``), with their status (已归档, 待审核, ...);
- quarantined: a quarantine record whose ``submitted_by`` is the uploader, with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session

from app import intake_drop
from app.intake_drop import Dropped
from archive.customers import get_visible
from archive.naming import sanitize_component
from config.settings import Settings
from config.taxonomy import Taxonomy
from ingest.detect import DetectedFormat, FormatKind, detect_stream
from ingest.intake import PROCESSING_DIR, load_claim
from ingest.intake.drop import Readable
from ingest.intake.sidecar import dropped_files
from ingest.quarantine import list_quarantine, reason_label
from models import repo
from models.errors import ValidationError
from models.user import User

log = logging.getLogger(__name__)

#: Chinese names of an upload's states that are not document statuses.
STATE_LABELS = {
    "waiting": "等待处理",
    "processing": "处理中",
    "quarantined": "已隔离",
}
MAX_ROWS = 200


def refuse_unreadable(stream: BinaryIO) -> DetectedFormat:
    """The format of an upload not yet written anywhere, by the intake's own detection.

    Raises:
        IngestError: Empty, unsupported, encrypted or corrupt (``UnsupportedFormatError`` and
            its siblings, each with a Chinese message); the stream is rewound either way.
    """
    return detect_stream(stream)


def readable_formats() -> str:
    """The formats the intake reads, for the upload page (from the detector's own list)."""
    return "、".join(k.value.upper() for k in FormatKind)


def upload_folder(settings: Settings, username: str) -> Path:
    """The uploader's own folder inside the intake."""
    return Path(settings.intake_dir or "") / sanitize_component(username)


def check_hints(
    session: Session, *, user: User, taxonomy: Taxonomy, customer_code: str, document_type: str
) -> tuple[str | None, str | None]:
    """The uploader's optional customer and type hints, checked; blanks become None.

    Raises:
        NotFoundError: A customer the user cannot see.
        ValidationError: An unknown document type.
    """
    code = customer_code.strip().upper() or None
    if code is not None:
        code = get_visible(session, user, code).code
    kind = document_type.strip() or None
    if kind is not None and kind not in {t.code for t in taxonomy.document_types}:
        raise ValidationError(
            f"资料类型：未知的类型“{kind}”", field="document_type", reason="option_unknown"
        )
    return code, kind


def hand_in(
    source: Readable,
    name: str,
    *,
    settings: Settings,
    username: str,
    customer_code: str | None = None,
    document_type: str | None = None,
    upload_id: str | None = None,
) -> Dropped:
    """Hand an upload (already checked by :func:`refuse_unreadable`) in, into the user's folder
    of the intake (local, or the shared S3 intake's: :func:`app.intake_drop.hand_in`)."""
    return intake_drop.hand_in(
        source,
        name,
        settings=settings,
        folder=sanitize_component(username),
        submitted_by=username,
        customer_code=customer_code,
        document_type=document_type,
        upload_id=upload_id,
    )


# ---- what became of each upload ----------------------------------------------------------------


@dataclass
class UploadRow:
    """One upload and what became of it, newest first on the page."""

    name: str
    when: datetime
    state: str
    state_label: str
    reason: str | None = None
    reason_label: str | None = None
    document_ids: list[int] = field(default_factory=list)
    customer_code: str | None = None
    document_type: str | None = None


def my_uploads(
    session: Session, *, settings: Settings, taxonomy: Taxonomy, username: str
) -> list[UploadRow]:
    """Every upload of ``username`` with its outcome as of now, newest first."""
    rows = [
        *_waiting(settings, username),
        *_processing(settings, username),
        *_filed(session, taxonomy, username),
        *_quarantined(settings, username),
    ]
    rows.sort(key=lambda r: r.when, reverse=True)
    return rows[:MAX_ROWS]


def _parse_time(text: str | None) -> datetime:
    try:
        when = datetime.fromisoformat(text or "")
    except ValueError:
        return datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _waiting(settings: Settings, username: str) -> Iterator[UploadRow]:
    waiting = [record for _path, record in dropped_files(upload_folder(settings, username))]
    if settings.intake_s3_url:  # waiting in the shared S3 intake for any worker
        folder = sanitize_component(username)
        waiting += [record for _key, record in intake_drop.waiting_in_s3(settings, folder)]
    for record in waiting:
        if record.submitted_by == username:
            yield UploadRow(
                name=record.name,
                when=_parse_time(record.dropped_at),
                state="waiting",
                state_label=STATE_LABELS["waiting"],
                customer_code=record.customer_code,
                document_type=record.document_type,
            )


def _processing(settings: Settings, username: str) -> Iterator[UploadRow]:
    root = Path(settings.work_dir or "") / PROCESSING_DIR
    for claim_dir in sorted(root.glob("*/*")):
        try:
            claim = load_claim(claim_dir)
        except (FileNotFoundError, ValueError, KeyError, NotADirectoryError):
            continue
        if claim.submitted_by == username:
            when = datetime.fromtimestamp(claim_dir.stat().st_mtime, UTC)
            yield UploadRow(
                name=Path(claim.display_path).name,
                when=when,
                state="processing",
                state_label=STATE_LABELS["processing"],
            )


def _filed(session: Session, taxonomy: Taxonomy, username: str) -> Iterator[UploadRow]:
    by_file: dict[str, UploadRow] = {}
    for doc in repo.list_documents(session, submitted_by=username, limit=MAX_ROWS * 2):
        row = by_file.get(doc.original_sha256)
        if row is None:
            row = by_file[doc.original_sha256] = UploadRow(
                name=doc.original_filename,
                when=doc.created_at,
                state=doc.status,
                state_label=taxonomy.document_status_label(doc.status),
            )
        row.document_ids.append(doc.id or 0)
        if doc.status == "pending_review":  # a file with one part waiting is waiting
            row.state, row.state_label = doc.status, taxonomy.document_status_label(doc.status)
    for row in by_file.values():
        row.document_ids.sort()
        yield row


def _quarantined(settings: Settings, username: str) -> Iterator[UploadRow]:
    for entry in list_quarantine(settings.quarantine_dir or ""):
        record = entry.record or {}
        if record.get("submitted_by") != username:
            continue
        yield UploadRow(
            name=str(record.get("original_name") or (entry.path.name if entry.path else "")),
            when=entry.quarantined_at,
            state="quarantined",
            state_label=STATE_LABELS["quarantined"],
            reason=entry.reason,
            reason_label=reason_label(entry.reason, record.get("message")),
        )
