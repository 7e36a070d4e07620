"""Claiming: one ``os.rename`` into the work area is the lock; then finish or give back.

:func:`claim` moves the file into ``work_dir/processing/<run_id>/<unique>/<original name>``.
Of two workers racing for one file exactly one succeeds, the other gets
:class:`~ingest.errors.AlreadyClaimedError`. A small ``.claim.json`` manifest (original
relative path, sha256, size, pid, host, run id) is written atomically next to it. After the
caller has filed, verified and committed everything it calls :func:`complete`; on a transient
failure it may call :func:`return_to_intake`.
"""

from __future__ import annotations

import base64
import errno
import json
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.errors import ConfigurationError
from ingest.errors import AlreadyClaimedError
from ingest.fsutil import (
    FileKind,
    display_text,
    file_kind,
    fs_b64,
    move_no_overwrite,
    remove_empty_dirs,
    sha256_file,
    write_json_atomic,
)
from ingest.intake.scan import Candidate, IntakeFile
from ingest.intake.sidecar import DropRecord, link_with_sidecar, read_sidecar, remove_sidecar

log = logging.getLogger("ingest.intake")

MANIFEST_NAME = ".claim.json"  # hidden: the intake never yields hidden names
PROCESSING_DIR = "processing"


@dataclass(frozen=True)
class Claim(IntakeFile):
    """A file moved into the processing area; the caller now owns it.

    Attributes:
        claim_dir: ``work_dir/processing/<run_id>/<unique>``; holds the file and the manifest.
        path: The claimed file (same name and bytes as in the intake).
        intake_dir: The intake folder it came from.
        relative_path: Original path relative to the intake, exactly as on disk.
        relative_path_b64: The same as raw bytes (base64), to restore undecodable names.
        sha256: Hex digest of the bytes; ``None`` for refused entries (never read).
        size: Size in bytes (``lstat``).
        kind: What the entry is; anything but ``regular`` is refused.
        link_target: For a symlink, where it pointed.
        claimed_at: ISO 8601 UTC time of the claim.
        pid: Process that holds the claim.
        pid_start: That process's start time (``/proc``), to tell a reused pid apart.
        host: Host name of that process.
        run_id: The run that holds the claim.
        recovered_from: Run id of a crashed run this claim was adopted from, if any.
        submitted_by: Who handed the file in, from its drop sidecar; None: unknown.
        hints: What the submitter said about the file, from its drop sidecar
            (``customer_code``, ``document_type``); empty when nothing was said.
    """

    claim_dir: Path
    path: Path
    intake_dir: Path
    relative_path: str
    relative_path_b64: str
    sha256: str | None
    size: int
    kind: FileKind
    link_target: str | None
    claimed_at: str
    pid: int
    pid_start: int | None
    host: str
    run_id: str
    recovered_from: str | None = None
    submitted_by: str | None = None
    hints: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def display_name(self) -> str:
        """The file name, NFC-normalized, for display and keys."""
        return display_text(self.path.name)

    @property
    def original_path(self) -> Path:
        """Where the file was in the intake (raw bytes of the name preserved)."""
        raw = base64.b64decode(self.relative_path_b64)
        return self.intake_dir / os.fsdecode(raw)

    def manifest(self) -> dict[str, Any]:
        """The manifest as written to ``.claim.json``."""
        return {
            "relative_path": display_text(self.relative_path),
            "relative_path_b64": self.relative_path_b64,
            "file_name_b64": fs_b64(self.path.name),
            "intake_dir": str(self.intake_dir),
            "sha256": self.sha256,
            "size": self.size,
            "kind": self.kind,
            "link_target": self.link_target,
            "claimed_at": self.claimed_at,
            "pid": self.pid,
            "pid_start": self.pid_start,
            "host": self.host,
            "run_id": self.run_id,
            "recovered_from": self.recovered_from,
            "submitted_by": self.submitted_by,
            "hints": dict(self.hints),
        }


def claim(candidate: Candidate, *, work_dir: Path | str, run_id: str) -> Claim:
    """Take a candidate atomically into ``work_dir/processing/<run_id>/<unique>/``.

    The manifest is written before the rename (so a crash right after it still knows where the
    file came from) and completed with the file's sha256 after it.

    Args:
        candidate: What :func:`~ingest.intake.scan.find_candidates` yielded.
        work_dir: The work area; must be on the same filesystem as the intake.
        run_id: The current run.

    Returns:
        The claim; ``claim.refused`` tells whether to quarantine instead of processing.

    Raises:
        AlreadyClaimedError: Another worker took the file first, or it vanished.
        ConfigurationError: The work area is on another filesystem than the intake.
    """
    claim_dir = _new_claim_dir(Path(work_dir), run_id)
    target = claim_dir / candidate.path.name
    pending = _claim_record(candidate, claim_dir, target, run_id)
    write_manifest(pending)
    try:
        os.rename(candidate.path, target)
    except FileNotFoundError as e:
        discard_claim_dir(claim_dir)
        raise AlreadyClaimedError(
            "文件已被其他进程领取或已不存在", relative_path=candidate.display_path
        ) from e
    except OSError as e:
        discard_claim_dir(claim_dir)
        if e.errno == errno.EXDEV:
            raise ConfigurationError(
                f"工作目录 {work_dir} 与收件目录 {candidate.intake_dir} 不在同一文件系统，"
                "无法原子领取文件；请把 work_dir 放在与 intake_dir 相同的磁盘上",
            ) from e
        raise
    done = _finish_claim(pending)
    log.info("claimed %s into %s", done.display_path, claim_dir)
    return done


def _new_claim_dir(work_dir: Path, run_id: str) -> Path:
    unique = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
    claim_dir = work_dir / PROCESSING_DIR / safe_component(run_id) / unique
    for _ in range(5):  # complete() may remove the empty run folder between the two mkdirs
        claim_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            claim_dir.mkdir()
            return claim_dir
        except FileNotFoundError:
            continue
    claim_dir.mkdir(parents=True)
    return claim_dir


def safe_component(text: str) -> str:
    """A run id made safe as one folder name."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    if not cleaned.strip("."):
        raise ValueError(f"unusable run id: {text!r}")
    return cleaned


def _claim_record(candidate: Candidate, claim_dir: Path, target: Path, run_id: str) -> Claim:
    return Claim(
        claim_dir=claim_dir,
        path=target,
        intake_dir=candidate.intake_dir,
        relative_path=candidate.relative_path,
        relative_path_b64=fs_b64(candidate.relative_path),
        sha256=None,
        size=candidate.size,
        kind=candidate.kind,
        link_target=candidate.link_target,
        claimed_at=utc_now(),
        pid=os.getpid(),
        pid_start=process_start_ticks(os.getpid()),
        host=socket.gethostname(),
        run_id=run_id,
    )


def _finish_claim(pending: Claim) -> Claim:
    """Re-check what was claimed (it may have been swapped since the scan) and hash it."""
    st = os.lstat(pending.path)
    kind = file_kind(st.st_mode)
    digest = sha256_file(pending.path) if kind == "regular" else None
    target = pending.link_target
    if kind == "symlink":
        target = os.readlink(pending.path)
    done = replace(pending, kind=kind, size=st.st_size, sha256=digest, link_target=target)
    return record_submitter(done)


def record_submitter(c: Claim) -> Claim:
    """Take the submitter from the file's drop sidecar into the manifest, then drop the sidecar.

    The manifest is written first, so a crash in between loses nothing: the sidecar left behind
    is removed by the next adoption (or only ever matches these same bytes).
    """
    if c.submitted_by is None:
        found = read_sidecar(c.original_path, sha256=c.sha256)
        if found is not None:
            c = replace(c, submitted_by=found.submitted_by, hints=hints_of(found))
    write_manifest(c)
    remove_sidecar(c.original_path, sha256=c.sha256)
    return c


def hints_of(record: DropRecord) -> dict[str, str]:
    """The submitter's hints a drop sidecar carries (only those given)."""
    given = {
        "customer_code": record.customer_code,
        "document_type": record.document_type,
        "note": record.note,
    }
    return {k: v for k, v in given.items() if v}


def write_manifest(c: Claim) -> None:
    """Write (or rewrite) the claim's ``.claim.json`` atomically."""
    write_json_atomic(c.claim_dir / MANIFEST_NAME, c.manifest())


def discard_claim_dir(claim_dir: Path) -> None:
    """Remove a claim folder that holds no file (its manifest and empty parents)."""
    (claim_dir / MANIFEST_NAME).unlink(missing_ok=True)
    remove_empty_dirs(claim_dir, stop=claim_dir.parent.parent)


def utc_now() -> str:
    """Now, as ISO 8601 UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), else ``None``."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def load_claim(claim_dir: Path | str, *, intake_dir: Path | str | None = None) -> Claim:
    """Read a claim back from its folder's ``.claim.json``.

    Args:
        claim_dir: The claim's folder.
        intake_dir: Overrides the intake folder recorded in the manifest.

    Raises:
        FileNotFoundError: No manifest.
        ValueError: The manifest is unreadable.
    """
    folder = Path(claim_dir)
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        name = os.fsdecode(base64.b64decode(data["file_name_b64"]))
        relative = os.fsdecode(base64.b64decode(data["relative_path_b64"]))
        return Claim(
            claim_dir=folder,
            path=folder / name,
            intake_dir=Path(intake_dir or data["intake_dir"]),
            relative_path=relative,
            relative_path_b64=data["relative_path_b64"],
            sha256=data["sha256"],
            size=int(data["size"]),
            kind=data["kind"],
            link_target=data.get("link_target"),
            claimed_at=data["claimed_at"],
            pid=int(data["pid"]),
            pid_start=data.get("pid_start"),
            host=data["host"],
            run_id=data["run_id"],
            recovered_from=data.get("recovered_from"),
            submitted_by=data.get("submitted_by"),
            hints={str(k): str(v) for k, v in (data.get("hints") or {}).items()},
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"unreadable claim manifest in {folder}: {e}") from e


# ---- finishing a claim -----------------------------------------------------------------------


def complete(c: Claim) -> None:
    """Remove the claim's folder. Call only once everything is verified and committed."""
    shutil.rmtree(c.claim_dir)
    remove_empty_dirs(c.claim_dir.parent, stop=c.claim_dir.parent.parent)
    log.info("completed claim of %s", c.display_path)


def return_to_intake(c: Claim) -> Path:
    """Move a claimed file back to its original relative path in the intake.

    Never overwrites: if the original path is taken again, the file goes back as
    ``<stem>-2<suffix>`` (then ``-3``, ...). A known submitter goes back with it (a new drop
    sidecar). The claim's folder is removed afterwards.

    Returns:
        Where the file now is.
    """
    original = c.original_path
    original.parent.mkdir(parents=True, exist_ok=True)
    if not os.path.lexists(c.path):
        dest = original
    elif c.submitted_by is not None and c.sha256 is not None:
        record = DropRecord(
            original.name,
            c.sha256,
            c.size,
            c.submitted_by,
            utc_now(),
            customer_code=c.hints.get("customer_code"),
            document_type=c.hints.get("document_type"),
            note=c.hints.get("note"),
        )
        dest = link_with_sidecar(c.path, original, record)
        c.path.unlink(missing_ok=True)
    else:
        dest = move_no_overwrite(c.path, original)
    shutil.rmtree(c.claim_dir)
    remove_empty_dirs(c.claim_dir.parent, stop=c.claim_dir.parent.parent)
    log.info("returned %s to the intake as %s", c.display_path, display_text(dest.name))
    return dest
