"""Quarantine: files that cannot be ingested, kept byte for byte with the reason next to them.

Layout: ``quarantine/<reason code>/<YYYYMMDD>/<name>`` plus ``<name>.error.json``. Names are
never overwritten (``<stem>-2<suffix>``, ``-3``, ...). A symlink or special file is not moved
(a symlink would still point outside, a FIFO would block whoever reads it): a small text record
``<name>.<kind>.txt`` saying what it was and where it pointed takes its place, and the entry is
removed from the intake.

Order: the file is moved first, then the record is written atomically (temporary file and
rename). :func:`list_quarantine` reports a file without a record, or a record without its file,
so an integrity check can flag either.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from config.errors import DossierError, ErrorCode
from ingest.errors import QuarantineActionError, QuarantineEntryNotFoundError
from ingest.fsutil import (
    QUARANTINE_RECORD_SUFFIX,
    display_text,
    file_kind,
    fsync_dir,
    move_no_overwrite,
    numbered_names,
    sha256_file,
    write_json_atomic,
)
from ingest.intake import Claim, drop_file

log = logging.getLogger(__name__)

# Reason code -> (Chinese label, English message). Codes not listed fall back to the code.
REASONS: dict[str, tuple[str, str]] = {
    ErrorCode.UNSUPPORTED: ("不支持的文件格式", "Unsupported file format"),
    ErrorCode.CORRUPT: ("文件损坏或无法读取", "The file is corrupt or unreadable"),
    ErrorCode.ENCRYPTED: ("文件已加密", "The file is encrypted"),
    ErrorCode.TOO_LARGE: ("文件过大或超出处理上限", "The file exceeds a size or memory limit"),
    ErrorCode.TIMEOUT: ("处理超时", "Processing timed out"),
    ErrorCode.DUPLICATE: ("重复文件（已归档）", "Byte-identical file already archived"),
    ErrorCode.EMPTY: ("空文件", "The file is empty"),
    ErrorCode.NOT_REGULAR_FILE: (
        "不是普通文件（符号链接或特殊文件）",
        "Not a regular file (symlink or special file)",
    ),
    ErrorCode.CONVERSION_FAILED: ("格式转换失败", "Conversion to PDF failed"),
    ErrorCode.OCR_FAILED: ("文字识别失败", "OCR failed"),
    ErrorCode.INTERNAL: ("内部错误", "Internal error"),
}


def reason_label(reason: str, message: str | None = None) -> str:
    """A quarantine reason in Chinese: its label, and the message when that says more."""
    label = REASONS.get(reason, (reason, reason))[0]
    if not message or message.startswith(label):
        return message or label
    return f"{label}：{message}"


@dataclass(frozen=True)
class _Source:
    path: Path
    relative_path: str
    sha256: str | None
    kind: str
    link_target: str | None
    submitted_by: str | None = None
    hints: Mapping[str, str] | None = None


def quarantine(
    source: Claim | Path | str,
    *,
    quarantine_dir: Path | str,
    run_id: str,
    error: DossierError | None = None,
    code: ErrorCode | str | None = None,
    message: str | None = None,
    extra: Mapping[str, object] | None = None,
    now: datetime | None = None,
) -> Path:
    """Move a file into quarantine byte for byte and write its ``.error.json``.

    Give either ``error`` or ``code`` (+ ``message``). For a :class:`~ingest.intake.Claim`
    the claim's folder is left in place (with only its manifest): call
    :func:`ingest.intake.complete` once the outcome is recorded.

    Args:
        source: A claim, or a path (its name is then the original relative path).
        quarantine_dir: The quarantine root.
        run_id: The current run.
        error: The error that sent the file here; its ``code`` names the folder.
        code: The reason code when there is no error object.
        message: The message for people (Chinese) when there is no error object.
        extra: More facts for the record, e.g. ``{"existing_document_id": 12}``.
        now: The time to record (default: now, local time zone).

    Returns:
        Where the quarantined file (or the record that stands for a refused entry) now is.

    Raises:
        ValueError: Neither ``error`` nor ``code`` given.
        FileNotFoundError: The source does not exist.
    """
    reason, text = _reason(error, code, message)
    when = (now or datetime.now()).astimezone()
    src = _describe(source)
    day_dir = Path(quarantine_dir) / reason / when.strftime("%Y%m%d")
    day_dir.mkdir(parents=True, exist_ok=True)
    size = os.lstat(src.path).st_size
    if src.kind == "regular":
        digest = src.sha256 or sha256_file(src.path)
        dest = _move_into(src.path, day_dir / display_text(src.path.name), digest)
    else:
        digest = None
        dest = _replace_by_record(src, day_dir)
    record = _record(src, reason, text, error, digest, size, dest, when, run_id, extra)
    write_json_atomic(record_path_for(dest), record)
    log.warning("quarantined %s as %s: %s", display_text(src.relative_path), reason, text)
    return dest


def record_path_for(data_path: Path) -> Path:
    """The ``.error.json`` that belongs to a quarantined file."""
    return data_path.with_name(data_path.name + QUARANTINE_RECORD_SUFFIX)


def _reason(
    error: DossierError | None, code: ErrorCode | str | None, message: str | None
) -> tuple[str, str]:
    if error is not None:
        return str(error.code), error.message
    if code is None:
        raise ValueError("quarantine needs an error or a code")
    reason = str(code)
    if not reason or "/" in reason or reason.startswith("."):
        raise ValueError(f"unusable reason code: {reason!r}")
    return reason, message or REASONS.get(reason, (reason, reason))[0]


def _describe(source: Claim | Path | str) -> _Source:
    if isinstance(source, Claim):
        return _Source(
            source.path,
            source.relative_path,
            source.sha256,
            source.kind,
            source.link_target,
            source.submitted_by,
            source.hints,
        )
    path = Path(source)
    st = os.lstat(path)
    kind = file_kind(st.st_mode)
    target = os.readlink(path) if kind == "symlink" else None
    return _Source(path, path.name, None, kind, target)


def _taken_by_record(path: Path) -> bool:
    return os.path.lexists(record_path_for(path))


def _move_into(src: Path, dest: Path, digest: str) -> Path:
    """Move without overwriting; across filesystems copy, verify the copy, then delete."""
    try:
        return move_no_overwrite(src, dest, also_taken=_taken_by_record)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
    return _copy_verify_delete(src, dest, digest)


def _copy_verify_delete(src: Path, dest: Path, digest: str) -> Path:
    tmp = dest.with_name(f".{uuid.uuid4().hex}.tmp")
    with open(src, "rb") as fin, open(tmp, "xb") as fout:
        shutil.copyfileobj(fin, fout, 1024 * 1024)
        fout.flush()
        os.fsync(fout.fileno())
    try:
        if sha256_file(tmp) != digest:
            raise OSError(errno.EIO, "copy into quarantine does not match the original", str(src))
        final = move_no_overwrite(tmp, dest, also_taken=_taken_by_record)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.unlink(src)
    return final


def _replace_by_record(src: _Source, day_dir: Path) -> Path:
    """Stand-in text for a symlink or special file, which is then removed (never opened)."""
    lines = [f"kind: {src.kind}", f"original: {display_text(src.relative_path)}"]
    if src.link_target is not None:
        lines.append(f"link_target: {display_text(src.link_target)}")
    data = ("\n".join(lines) + "\n").encode("utf-8", errors="backslashreplace")
    wanted = day_dir / f"{display_text(src.path.name)}.{src.kind}.txt"
    for attempt in numbered_names(wanted):
        if _taken_by_record(attempt):
            continue
        try:
            fd = os.open(attempt, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fsync(fh.fileno())
        break
    os.unlink(src.path)
    return attempt


def _record(
    src: _Source,
    reason: str,
    text: str,
    error: DossierError | None,
    digest: str | None,
    size: int,
    dest: Path,
    when: datetime,
    run_id: str,
    extra: Mapping[str, object] | None,
) -> dict[str, Any]:
    label, english = REASONS.get(reason, (reason, reason))
    return {
        "reason": reason,
        "reason_label": label,
        "message": text,
        "message_en": english,
        "error_type": type(error).__name__ if error is not None else None,
        "detail": dict(error.detail) if error is not None else {},
        "sha256": digest,
        "size": size,
        "kind": src.kind,
        "link_target": display_text(src.link_target) if src.link_target else None,
        "original_relative_path": display_text(src.relative_path),
        "original_name": display_text(Path(src.relative_path).name),
        "submitted_by": src.submitted_by,
        "hints": dict(src.hints or {}),
        "quarantined_file": dest.name,
        "quarantined_at": when.isoformat(timespec="seconds"),
        "run_id": run_id,
        "extra": dict(extra or {}),
    }


# --------------------------------------------------------------------------------------------
# Reading quarantine back
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined file and its record, as found on disk.

    Attributes:
        reason: The reason folder (an error code).
        day: The ``YYYYMMDD`` folder.
        path: The quarantined file; ``None`` when only its record is left.
        record_path: The ``.error.json``; ``None`` when it is missing.
        record: The parsed record; ``None`` when missing or unreadable.
        problem: ``None`` if all is well, else ``record_missing``, ``record_unreadable``
            or ``file_missing``.
    """

    reason: str
    day: str
    path: Path | None
    record_path: Path | None
    record: dict[str, Any] | None
    problem: str | None = None

    @property
    def quarantined_at(self) -> datetime:
        """When the file was quarantined (from the record, else the file's mtime)."""
        if self.record and self.record.get("quarantined_at"):
            try:
                return datetime.fromisoformat(self.record["quarantined_at"])
            except ValueError:
                pass
        existing = self.path or self.record_path
        assert existing is not None
        return datetime.fromtimestamp(os.lstat(existing).st_mtime).astimezone()

    @property
    def ref(self) -> str:
        """``<reason>/<day>/<name>``: how pages and commands name this entry."""
        existing = self.path or self.record_path
        assert existing is not None
        name = self.path.name if self.path else existing.name[: -len(QUARANTINE_RECORD_SUFFIX)]
        return f"{self.reason}/{self.day}/{name}"

    @property
    def submitted_by(self) -> str | None:
        """Who handed the file in, as recorded."""
        return (self.record or {}).get("submitted_by")

    @property
    def sha256(self) -> str | None:
        """The original file's sha256 as recorded."""
        return (self.record or {}).get("sha256")

    @property
    def message(self) -> str | None:
        """The recorded message for people."""
        return (self.record or {}).get("message")

    @property
    def original_relative_path(self) -> str | None:
        """Where the file was in the intake."""
        return (self.record or {}).get("original_relative_path")

    def age_days(self, now: datetime | None = None) -> float:
        """How many days ago the file was quarantined."""
        current = (now or datetime.now()).astimezone()
        return (current - self.quarantined_at).total_seconds() / 86400


def list_quarantine(quarantine_dir: Path | str) -> Iterator[QuarantineEntry]:
    """Yield every quarantined file (and every record whose file is gone), sorted.

    Args:
        quarantine_dir: The quarantine root.
    """
    root = Path(quarantine_dir)
    if not root.is_dir():
        return
    for reason_dir in sorted(p for p in root.iterdir() if _is_plain_dir(p)):
        for day_dir in sorted(p for p in reason_dir.iterdir() if _is_plain_dir(p)):
            yield from _entries_in(reason_dir.name, day_dir)


def _is_plain_dir(path: Path) -> bool:
    return not path.name.startswith(".") and stat.S_ISDIR(os.lstat(path).st_mode)


def _entries_in(reason: str, day_dir: Path) -> Iterator[QuarantineEntry]:
    names = sorted(n for n in os.listdir(day_dir) if not n.startswith("."))
    records = {n for n in names if n.endswith(QUARANTINE_RECORD_SUFFIX)}
    for name in names:
        if name in records:
            data_name = name[: -len(QUARANTINE_RECORD_SUFFIX)]
            if data_name not in names:
                yield _entry(reason, day_dir, None, day_dir / name)
            continue
        record_name = name + QUARANTINE_RECORD_SUFFIX
        record = day_dir / record_name if record_name in records else None
        yield _entry(reason, day_dir, day_dir / name, record)


def _entry(
    reason: str, day_dir: Path, path: Path | None, record_path: Path | None
) -> QuarantineEntry:
    record, problem = None, None
    if record_path is None:
        problem = "record_missing"
    else:
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            problem = "record_unreadable"
        if path is None:
            problem = "file_missing"
    return QuarantineEntry(reason, day_dir.name, path, record_path, record, problem)


# --------------------------------------------------------------------------------------------
# Acting on a quarantined file: find it by reference, re-queue it, discard it
# --------------------------------------------------------------------------------------------


def find_entry(quarantine_dir: Path | str, ref: str) -> QuarantineEntry:
    """The quarantined entry named ``<reason>/<day>/<name>`` (see :attr:`QuarantineEntry.ref`).

    The reference is matched against what :func:`list_quarantine` finds, never joined onto a
    path, so ``..`` or an absolute path cannot reach outside the quarantine.

    Raises:
        QuarantineEntryNotFoundError: No such entry.
    """
    reason, _, rest = ref.strip().partition("/")
    day = rest.partition("/")[0]
    root = Path(quarantine_dir) / reason / day
    if reason and day and "/" not in reason + day and ".." not in (reason, day) and root.is_dir():
        for entry in _entries_in(reason, root):
            if entry.ref == ref.strip():
                return entry
    raise QuarantineEntryNotFoundError(f"隔离区中没有该文件：{display_text(ref)}（可能已处理）")


def requeue_entry(entry: QuarantineEntry, *, intake_dir: Path | str) -> Path:
    """Hand a quarantined file back to the intake (with its submitter), then remove it here.

    The file goes to the intake folder it came from (its recorded relative folder) through
    :func:`ingest.intake.drop_file`, so it is never overwritten and keeps its submitter and
    hints; only once it is there are the quarantined copy and its record removed.

    Raises:
        QuarantineActionError: The entry is a stand-in record (symlink or special file) or has
            lost its file.
    """
    if entry.path is None or (entry.record or {}).get("kind", "regular") != "regular":
        raise QuarantineActionError("该条目不是可重新处理的普通文件（只剩记录或原为链接）")
    original = Path(entry.original_relative_path or entry.path.name)
    parts = [p for p in original.parent.parts if p not in ("", ".", "..", "/")]
    folder = Path(intake_dir).joinpath(*parts) if parts == list(original.parent.parts) else None
    hints = (entry.record or {}).get("hints") or {}
    dest = drop_file(
        entry.path,
        original.name or entry.path.name,
        folder or Path(intake_dir),
        submitted_by=entry.submitted_by,
        customer_code=hints.get("customer_code"),
        document_type=hints.get("document_type"),
    )
    _remove_entry(entry)
    log.info("re-queued %s as %s", display_text(entry.ref), display_text(dest.name))
    return dest


def discard_entry(entry: QuarantineEntry) -> None:
    """Delete a quarantined file and its record for good (the caller audits the reason)."""
    _remove_entry(entry)
    log.info("discarded %s", display_text(entry.ref))


def _remove_entry(entry: QuarantineEntry) -> None:
    if entry.path is not None:
        entry.path.unlink(missing_ok=True)
    if entry.record_path is not None:
        entry.record_path.unlink(missing_ok=True)
    fsync_dir((entry.path or entry.record_path or Path(".")).parent)
