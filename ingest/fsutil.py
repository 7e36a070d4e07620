"""File helpers shared by the intake and the quarantine: never follow, never overwrite.

- :func:`file_kind` classifies an ``lstat`` mode; :func:`display_text` turns a name from disk
  into NFC text for display and keys (never for disk access).
- :func:`sha256_file` hashes a regular file without following symlinks or blocking on a FIFO.
- :func:`write_json_atomic` writes via a temporary file, ``fsync`` and ``rename``.
- :func:`move_no_overwrite` and :func:`link_no_overwrite` put a file under ``dest`` or the
  first free ``<stem>-2<suffix>``, ``-3``, ... name; an existing name is never replaced.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import stat
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

FileKind = Literal["regular", "symlink", "fifo", "socket", "char_device", "block_device", "other"]

#: A quarantined file's record sits next to it as ``<name>.error.json``; the intake skips them.
QUARANTINE_RECORD_SUFFIX = ".error.json"

_HASH_CHUNK = 1024 * 1024
_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV)


def display_text(raw: str) -> str:
    """NFC-normalize a name from disk; undecodable bytes become ``\\xNN`` escapes."""
    text = os.fsencode(raw).decode("utf-8", errors="backslashreplace")
    return unicodedata.normalize("NFC", text)


def file_kind(mode: int) -> FileKind:
    """Classify an ``lstat`` mode."""
    if stat.S_ISREG(mode):
        return "regular"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "char_device"
    if stat.S_ISBLK(mode):
        return "block_device"
    return "other"


def fs_b64(raw: str) -> str:
    """The raw bytes of a name from disk, base64-encoded (to restore undecodable names)."""
    return base64.b64encode(os.fsencode(raw)).decode("ascii")


def sha256_file(path: Path | str) -> str:
    """SHA-256 of a regular file, opened without following symlinks and without blocking."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        digest = hashlib.sha256()
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON (UTF-8, readable) via a temporary file, fsync and rename."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    payload = text.encode("utf-8", errors="backslashreplace")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename or link in ``folder`` durable (best effort where not supported)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_empty_dirs(folder: Path, *, stop: Path) -> None:
    """Remove ``folder`` and then its parents while they are empty, up to (not incl.) ``stop``."""
    current = folder
    while current != stop and stop in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


def move_no_overwrite(
    src: Path, dest: Path, *, also_taken: Callable[[Path], bool] | None = None
) -> Path:
    """Rename ``src`` to ``dest``, or ``dest`` with ``-2``, ``-3``... if taken; never overwrites.

    Uses ``link`` + ``unlink`` (which fails instead of replacing) where the filesystem allows
    hard links; otherwise a checked rename. Raises ``OSError(EXDEV)`` across filesystems.

    Args:
        src: What to move.
        dest: Where to, ideally.
        also_taken: Treats a free name as taken when this returns true (e.g. when a
            companion file for that name already exists).

    Returns:
        The path actually used.
    """
    final = link_no_overwrite(src, dest, also_taken=also_taken)
    if final != src and os.path.lexists(src):
        os.unlink(src)
    return final


def link_no_overwrite(
    src: Path, dest: Path, *, also_taken: Callable[[Path], bool] | None = None
) -> Path:
    """Give ``src`` the first free name of :func:`numbered_names` (``dest``, ``-2``, ...).

    A hard link is made (``src`` keeps existing: the caller removes it); where the filesystem
    has no hard links, ``src`` is renamed after a check, so it is gone afterwards.

    Returns:
        The path actually used.
    """
    for attempt in numbered_names(dest):
        if also_taken is not None and also_taken(attempt):
            continue
        try:
            os.link(src, attempt, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as e:
            if e.errno not in _NO_HARD_LINKS:
                raise
            if os.path.lexists(attempt):
                continue
            os.rename(src, attempt)
        return attempt
    raise AssertionError("unreachable")


def numbered_names(dest: Path) -> Iterator[Path]:
    """``dest``, then ``<stem>-2<suffix>``, ``<stem>-3<suffix>``, ... without end."""
    yield dest
    stem, suffix = split_suffix(dest.name)
    n = 2
    while True:
        yield dest.with_name(f"{stem}-{n}{suffix}")
        n += 1


def split_suffix(name: str) -> tuple[str, str]:
    """``("scan", ".pdf")`` for ``scan.pdf``; a leading dot is not a suffix."""
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]
