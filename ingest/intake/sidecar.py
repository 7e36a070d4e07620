"""Who handed a file in: a small hidden JSON sidecar beside a dropped file, read by the claim.

A drop (:func:`ingest.intake.drop.drop_file`) reserves the sidecar *before* the file appears
under its name, so the intake never sees a dropped file without it. The sidecar names the file
by a hash of its name (``.dropped-<hash>.json``: hidden, so the intake never takes it, and short
whatever the name's length) and records the file's sha256: a claim honours it only for those
exact bytes, so a stale sidecar left by a crash never labels another file.

:func:`link_with_sidecar` is the one placement rule for a file with a submitter: reserve the
sidecar with ``O_EXCL``, hard-link the file into place (never replacing anything), and move to
``<stem>-2<suffix>``, ``-3``, ... when either is taken. Two racing drops of one name therefore
both survive under distinct names.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ingest.fsutil import display_text, fsync_dir, numbered_names, sha256_file

log = logging.getLogger("ingest.intake")

SIDECAR_PREFIX = ".dropped-"
_REQUIRED = ("name", "sha256", "size", "submitted_by", "dropped_at")
_HINTS = ("customer_code", "document_type", "note")
_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK)


@dataclass(frozen=True)
class DropRecord:
    """What the sidecar says about one dropped file.

    Attributes:
        name: The file's name (display form).
        sha256: The dropped bytes; the record applies to these bytes only.
        size: Their length.
        submitted_by: Username of whoever handed the file in; None: unknown.
        dropped_at: ISO 8601 UTC time of the drop.
        customer_code: The customer the submitter says the file belongs to (a hint); None: none.
        document_type: The document type the submitter says it is (a hint); None: none.
        note: What came with the file (an e-mail's subject); None: nothing.
    """

    name: str
    sha256: str
    size: int
    submitted_by: str | None
    dropped_at: str
    customer_code: str | None = None
    document_type: str | None = None
    note: str | None = None


def sidecar_path(path: Path) -> Path:
    """Where the sidecar of a file at ``path`` lives (same folder, hidden)."""
    digest = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:24]
    return path.with_name(f"{SIDECAR_PREFIX}{digest}.json")


def read_sidecar(path: Path, *, sha256: str | None) -> DropRecord | None:
    """The sidecar of the file at ``path`` when it describes exactly these bytes, else None."""
    if sha256 is None:
        return None
    try:
        data = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        record = DropRecord(**{k: data[k] for k in _REQUIRED}, **{k: data.get(k) for k in _HINTS})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as e:
        log.warning("unreadable drop sidecar for %s: %s", display_text(path.name), e)
        return None
    return record if record.sha256 == sha256 else None


def dropped_files(folder: Path) -> list[tuple[Path, DropRecord]]:
    """The files in ``folder`` (not below it) that still wait beside their sidecar, by name."""
    found: list[tuple[Path, DropRecord]] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if not sidecar_path(path).exists():
            continue
        try:
            digest = sha256_file(path)
        except FileNotFoundError:  # claimed meanwhile
            continue
        record = read_sidecar(path, sha256=digest)
        if record is not None:
            found.append((path, record))
    return found


def remove_sidecar(path: Path, *, sha256: str | None) -> None:
    """Remove the sidecar of the file at ``path`` if it describes these bytes."""
    if read_sidecar(path, sha256=sha256) is not None:
        sidecar_path(path).unlink(missing_ok=True)


def link_with_sidecar(src: Path, wanted: Path, record: DropRecord) -> Path:
    """Give ``src`` the first free name from ``wanted`` on, with its sidecar written first.

    ``src`` keeps existing (a hard link is made; the caller removes ``src``). On a filesystem
    without hard links ``src`` is renamed after a check instead (and is gone afterwards).

    Returns:
        Where the file now is.
    """
    for attempt in numbered_names(wanted):
        if not _reserve(attempt, record):
            continue
        try:
            os.link(src, attempt, follow_symlinks=False)
        except FileExistsError:
            sidecar_path(attempt).unlink(missing_ok=True)
            continue
        except OSError as e:
            if e.errno not in _NO_HARD_LINKS:
                sidecar_path(attempt).unlink(missing_ok=True)
                raise
            if os.path.lexists(attempt):
                sidecar_path(attempt).unlink(missing_ok=True)
                continue
            os.rename(src, attempt)
        fsync_dir(attempt.parent)
        return attempt
    raise AssertionError("unreachable")


def _reserve(path: Path, record: DropRecord) -> bool:
    """Create ``path``'s sidecar exclusively; False when it exists (the name is taken)."""
    payload = json.dumps({**asdict(record), "name": display_text(path.name)}, ensure_ascii=False)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(sidecar_path(path), flags, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload.encode("utf-8", errors="backslashreplace"))
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        sidecar_path(path).unlink(missing_ok=True)
        raise
    return True
