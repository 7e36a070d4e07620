"""The quarantine for people: list with Chinese reasons, re-queue, discard; every action audited.

The web page (``/quarantine``) and ``dossier quarantine`` both call these functions. The file
operations are :mod:`ingest.quarantine`'s; this module adds the audit event (entity
``quarantine``, id the file's sha256; its ``<reason>/<day>/<name>`` in ``before``) in the
caller's transaction, written after the file operation succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from config.settings import Settings
from ingest.errors import QuarantineEntryNotFoundError
from ingest.quarantine import (
    QuarantineEntry,
    discard_entry,
    find_entry,
    list_quarantine,
    reason_label,
    requeue_entry,
)
from models import repo
from models.errors import ValidationError

PROBLEM_LABELS = {
    "record_missing": "缺少隔离记录",
    "record_unreadable": "隔离记录无法读取",
    "file_missing": "文件已缺失（只剩记录）",
}


@dataclass(frozen=True)
class QuarantineRow:
    """One quarantined file as people see it (keys stay English in JSON)."""

    ref: str
    name: str
    reason: str
    reason_label: str
    quarantined_at: datetime
    submitted_by: str | None
    size: int | None
    problem: str | None
    problem_label: str | None
    can_requeue: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "ref": self.ref,
            "name": self.name,
            "reason": self.reason,
            "label": self.reason_label,
            "quarantined_at": self.quarantined_at.isoformat(timespec="seconds"),
            "submitted_by": self.submitted_by,
            "size": self.size,
            "problem": self.problem,
        }


def row_of(entry: QuarantineEntry) -> QuarantineRow:
    record = entry.record or {}
    name = record.get("original_name") or entry.ref.rpartition("/")[2]
    return QuarantineRow(
        ref=entry.ref,
        name=str(name),
        reason=entry.reason,
        reason_label=reason_label(entry.reason, record.get("message")),
        quarantined_at=entry.quarantined_at,
        submitted_by=entry.submitted_by,
        size=record.get("size"),
        problem=entry.problem,
        problem_label=PROBLEM_LABELS.get(entry.problem or ""),
        can_requeue=entry.path is not None and record.get("kind", "regular") == "regular",
    )


def quarantine_rows(settings: Settings) -> list[QuarantineRow]:
    """Every quarantined file, newest first."""
    rows = [row_of(e) for e in list_quarantine(settings.quarantine_dir or "")]
    return sorted(rows, key=lambda r: r.quarantined_at, reverse=True)


def entry_file(settings: Settings, ref: str) -> tuple[Path, str]:
    """The quarantined file's path and its original name, for a download.

    Raises:
        QuarantineEntryNotFoundError: No such entry, or only its record is left.
    """
    entry = find_entry(settings.quarantine_dir or "", ref)
    if entry.path is None:
        raise QuarantineEntryNotFoundError(f"隔离区中只剩该文件的记录：{entry.ref}")
    return entry.path, row_of(entry).name


def requeue(session: Session, *, settings: Settings, ref: str, actor: str) -> Path:
    """Hand a quarantined file back to the intake and audit it (``quarantine.requeue``)."""
    entry = find_entry(settings.quarantine_dir or "", ref)
    before = row_of(entry).as_dict()
    dest = requeue_entry(entry, intake_dir=settings.intake_dir or "")
    intake = Path(settings.intake_dir or "")
    repo.add_audit_event(
        session,
        actor=actor,
        action="quarantine.requeue",
        entity_type="quarantine",
        entity_id=_entity_id(entry),
        before=before,
        after={"intake_path": dest.relative_to(intake).as_posix()},
    )
    return dest


def _entity_id(entry: QuarantineEntry) -> str:
    """The audit id: the file's sha256 (64 characters, the column's width), else the reference."""
    return entry.sha256 or entry.ref[-64:]


def discard(session: Session, *, settings: Settings, ref: str, actor: str, reason: str) -> None:
    """Delete a quarantined file for good, with the reason given, and audit it.

    Raises:
        ValidationError: No reason given.
    """
    if not reason.strip():
        raise ValidationError("丢弃原因：不能为空", field="reason", reason="required")
    entry = find_entry(settings.quarantine_dir or "", ref)
    before = row_of(entry).as_dict()
    # The event is flushed before the file goes (the caller commits): a database that cannot
    # take it stops the discard, so no file leaves without its audit record.
    repo.add_audit_event(
        session,
        actor=actor,
        action="quarantine.discard",
        entity_type="quarantine",
        entity_id=_entity_id(entry),
        before=before,
        detail=reason.strip(),
    )
    discard_entry(entry)
