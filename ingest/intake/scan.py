"""Finding candidates: walk the intake folder with ``lstat`` only, skipping ignored names.

Symlinks are never followed and FIFOs never opened; hidden and temporary names are skipped.
:func:`is_ignored_name` is the one rule for what the intake never takes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.fsutil import QUARANTINE_RECORD_SUFFIX, FileKind, display_text, file_kind

TEMPORARY_SUFFIXES = (".part", ".tmp", ".crdownload")


class IntakeFile:
    """What a file seen in the intake and a claimed file both tell about themselves."""

    relative_path: str
    kind: FileKind

    @property
    def refused(self) -> bool:
        """Symlinks and special files are refused: the caller quarantines them."""
        return self.kind != "regular"

    @property
    def display_path(self) -> str:
        """The relative path NFC-normalized, for display and keys (never for disk access)."""
        return display_text(self.relative_path)


@dataclass(frozen=True)
class Candidate(IntakeFile):
    """One entry found in the intake folder, as seen by ``lstat`` (never followed).

    Attributes:
        path: Where it is on disk (the name exactly as on disk).
        intake_dir: The intake folder it was found in.
        relative_path: Path relative to ``intake_dir``, POSIX separators, exactly as on disk.
        size: ``st_size`` from ``lstat``.
        mtime_ns: ``st_mtime_ns`` from ``lstat``.
        ctime_ns: ``st_ctime_ns`` from ``lstat`` (changes on every write, cannot be set back).
        kind: What the entry is; only ``regular`` files are processed.
        link_target: For a symlink, where it points (read with ``readlink``, never followed).
    """

    path: Path
    intake_dir: Path
    relative_path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    kind: FileKind
    link_target: str | None = None

    @property
    def signature(self) -> tuple[int, int, int]:
        """What must stay unchanged for the entry to count as settled."""
        return (self.size, self.mtime_ns, self.ctime_ns)


def is_ignored_name(name: str) -> bool:
    """True for hidden and temporary names the intake never takes.

    Hidden (``.*``), Office lock files (``~$*``), partial downloads and temporary files
    (``*.part``, ``*.tmp``, ``*.crdownload``) and quarantine records (``*.error.json``).
    """
    lower = name.lower()
    return (
        name.startswith(".")
        or name.startswith("~$")
        or lower.endswith(TEMPORARY_SUFFIXES)
        or lower.endswith(QUARANTINE_RECORD_SUFFIX)
    )


def find_candidates(
    intake_dir: Path | str, *, exclude: Iterable[Path | str] = ()
) -> Iterator[Candidate]:
    """Walk the intake folder and yield every entry that may be taken.

    Never follows symlinks (a symlink, to a file or a folder, is yielded as a refused
    candidate and not descended into) and never opens anything. Hidden folders are skipped
    entirely. Entries that vanish during the walk are skipped.

    Args:
        intake_dir: The intake folder.
        exclude: Folders not to descend into (e.g. a work or quarantine folder placed inside
            the intake).

    Yields:
        Candidates in a stable (sorted) order.
    """
    root = Path(intake_dir)
    excluded = {os.path.abspath(p) for p in exclude}
    yield from _walk(root, root, excluded)


def _walk(root: Path, folder: Path, excluded: set[str]) -> Iterator[Candidate]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for entry in entries:
        if is_ignored_name(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        path = Path(entry.path)
        if stat.S_ISDIR(st.st_mode):
            if os.path.abspath(path) not in excluded:
                yield from _walk(root, path, excluded)
            continue
        yield _candidate(root, path, st)


def _candidate(root: Path, path: Path, st: os.stat_result) -> Candidate:
    kind = file_kind(st.st_mode)
    target = None
    if kind == "symlink":
        try:
            target = os.readlink(path)
        except OSError:
            target = None
    return Candidate(
        path=path,
        intake_dir=root,
        relative_path=path.relative_to(root).as_posix(),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        ctime_ns=st.st_ctime_ns,
        kind=kind,
        link_target=target,
    )
