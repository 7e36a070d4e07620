"""The intake folder: find complete files, claim them atomically, recover claims left by a crash.

A clerk drops files into the intake folder (sub-folders allowed). A pass:

1. :func:`find_candidates` walks the folder with ``lstat`` only (symlinks are never followed,
   FIFOs never opened), skipping hidden and temporary names.
2. :class:`SettleTracker` (or :class:`IntakeWatcher`, which combines both steps) takes a file
   only once its size, mtime and ctime have stayed unchanged for ``settle_seconds``.
3. :func:`claim` moves the file with one ``os.rename`` into
   ``work_dir/processing/<run_id>/<unique>/<original name>``. The rename is the lock: of two
   workers racing for one file exactly one succeeds, the other gets :class:`AlreadyClaimedError`.
   A small ``.claim.json`` manifest (original relative path, sha256, size, pid, host, run id)
   is written atomically next to it.
4. After the caller has filed, verified and committed everything it calls :func:`complete`;
   on a transient failure it may call :func:`return_to_intake`.
5. :func:`recover_stale_claims` adopts claims whose owner died (pid gone on this host) or that
   are older than a timeout, so the next run can resume them.

The bytes and names on disk are never changed; names are NFC-normalized only for display
and keys (:attr:`Candidate.display_path`).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import logging
import os
import shutil
import socket
import stat
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from config.errors import ConfigurationError, DossierError, ErrorCode

log = logging.getLogger(__name__)

FileKind = Literal["regular", "symlink", "fifo", "socket", "char_device", "block_device", "other"]

MANIFEST_NAME = ".claim.json"  # hidden: the intake never yields hidden names
PROCESSING_DIR = "processing"
QUARANTINE_RECORD_SUFFIX = ".error.json"
TEMPORARY_SUFFIXES = (".part", ".tmp", ".crdownload")
_HASH_CHUNK = 1024 * 1024


class AlreadyClaimedError(DossierError):
    """Another worker took the file first (or it vanished). Not a failure: skip the file."""

    code = ErrorCode.CONFLICT


# --------------------------------------------------------------------------------------------
# Finding candidates
# --------------------------------------------------------------------------------------------


class _IntakeFile:
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
class Candidate(_IntakeFile):
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


def display_text(raw: str) -> str:
    """NFC-normalize a name from disk; undecodable bytes become ``\\xNN`` escapes."""
    text = os.fsencode(raw).decode("utf-8", errors="backslashreplace")
    return unicodedata.normalize("NFC", text)


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


# --------------------------------------------------------------------------------------------
# Settling
# --------------------------------------------------------------------------------------------


@dataclass
class _Seen:
    signature: tuple[int, int, int]
    since: float


@dataclass
class SettleTracker:
    """Remembers what each pass saw; a file is settled once unchanged for ``settle_seconds``.

    Keep one tracker for the life of a watcher and feed it every pass's candidates. A file
    whose size, mtime or ctime changed starts its wait again. ``accept_old`` lets a one-shot
    pass take, on first sight, a file whose mtime *and* ctime are both older than
    ``settle_seconds`` (the ctime guards against copies that restore an old mtime).

    Attributes:
        settle_seconds: How long an entry must stay unchanged.
        accept_old: Accept entries old enough on first sight (one-shot passes).
        clock: Monotonic clock (seconds) used to time the wait.
        wall_clock: Wall clock (seconds since the epoch) compared with file times.
    """

    settle_seconds: float
    accept_old: bool = False
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    _seen: dict[str, _Seen] = field(default_factory=dict, repr=False)

    def settled(self, candidates: Iterable[Candidate]) -> list[Candidate]:
        """Record one pass and return the candidates that are settled now.

        Entries not present in this pass are forgotten.
        """
        now = self.clock()
        wall_now = self.wall_clock()
        ready: list[Candidate] = []
        current: dict[str, _Seen] = {}
        for cand in candidates:
            seen = self._seen.get(cand.relative_path)
            if seen is None or seen.signature != cand.signature:
                seen = _Seen(cand.signature, now)
                if self.accept_old and self._is_old(cand, wall_now):
                    seen.since = float("-inf")
            current[cand.relative_path] = seen
            if now - seen.since >= self.settle_seconds:
                ready.append(cand)
        self._seen = current
        return ready

    def _is_old(self, cand: Candidate, wall_now: float) -> bool:
        newest = max(cand.mtime_ns, cand.ctime_ns) / 1e9
        return wall_now - newest >= self.settle_seconds


class IntakeWatcher:
    """Polls the intake folder and returns settled candidates, pass after pass."""

    def __init__(
        self,
        intake_dir: Path | str,
        *,
        settle_seconds: float,
        accept_old: bool = False,
        exclude: Iterable[Path | str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.intake_dir = Path(intake_dir)
        self.exclude = tuple(exclude)
        self.tracker = SettleTracker(settle_seconds, accept_old=accept_old, clock=clock)

    def poll(self) -> list[Candidate]:
        """One pass: the candidates that have settled (refused ones included, flagged)."""
        found = find_candidates(self.intake_dir, exclude=self.exclude)
        return self.tracker.settled(found)


def settled_candidates(
    intake_dir: Path | str, *, settle_seconds: float, exclude: Iterable[Path | str] = ()
) -> list[Candidate]:
    """A one-shot pass: candidates whose mtime and ctime are older than ``settle_seconds``."""
    tracker = SettleTracker(settle_seconds, accept_old=True)
    return tracker.settled(find_candidates(intake_dir, exclude=exclude))


# --------------------------------------------------------------------------------------------
# Claiming
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim(_IntakeFile):
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
            "file_name_b64": _b64(self.path.name),
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
        }


def claim(candidate: Candidate, *, work_dir: Path | str, run_id: str) -> Claim:
    """Take a candidate atomically into ``work_dir/processing/<run_id>/<unique>/``.

    The manifest is written before the rename (so a crash right after it still knows where the
    file came from) and completed with the file's sha256 after it.

    Args:
        candidate: What :func:`find_candidates` yielded.
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
    _write_manifest(pending)
    try:
        os.rename(candidate.path, target)
    except FileNotFoundError as e:
        _discard_claim_dir(claim_dir)
        raise AlreadyClaimedError(
            "文件已被其他进程领取或已不存在", relative_path=candidate.display_path
        ) from e
    except OSError as e:
        _discard_claim_dir(claim_dir)
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
    claim_dir = work_dir / PROCESSING_DIR / _safe_component(run_id) / unique
    for _ in range(5):  # complete() may remove the empty run folder between the two mkdirs
        claim_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            claim_dir.mkdir()
            return claim_dir
        except FileNotFoundError:
            continue
    claim_dir.mkdir(parents=True)
    return claim_dir


def _safe_component(text: str) -> str:
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
        relative_path_b64=_b64(candidate.relative_path),
        sha256=None,
        size=candidate.size,
        kind=candidate.kind,
        link_target=candidate.link_target,
        claimed_at=_utc_now(),
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
    _write_manifest(done)
    return done


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


def _write_manifest(c: Claim) -> None:
    write_json_atomic(c.claim_dir / MANIFEST_NAME, c.manifest())


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
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard_claim_dir(claim_dir: Path) -> None:
    (claim_dir / MANIFEST_NAME).unlink(missing_ok=True)
    _remove_empty_dirs(claim_dir, stop=claim_dir.parent.parent)


def _remove_empty_dirs(folder: Path, *, stop: Path) -> None:
    """Remove ``folder`` and then its parents while they are empty, up to (not incl.) ``stop``."""
    current = folder
    while current != stop and stop in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


def _b64(raw: str) -> str:
    return base64.b64encode(os.fsencode(raw)).decode("ascii")


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------------------------
# Finishing a claim
# --------------------------------------------------------------------------------------------


def complete(c: Claim) -> None:
    """Remove the claim's folder. Call only once everything is verified and committed."""
    shutil.rmtree(c.claim_dir)
    _remove_empty_dirs(c.claim_dir.parent, stop=c.claim_dir.parent.parent)
    log.info("completed claim of %s", c.display_path)


def return_to_intake(c: Claim) -> Path:
    """Move a claimed file back to its original relative path in the intake.

    Never overwrites: if the original path is taken again, the file goes back as
    ``<stem>-2<suffix>`` (then ``-3``, ...). The claim's folder is removed afterwards.

    Returns:
        Where the file now is.
    """
    original = c.original_path
    original.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(c.path):
        dest = move_no_overwrite(c.path, original)
    else:
        dest = original
    shutil.rmtree(c.claim_dir)
    _remove_empty_dirs(c.claim_dir.parent, stop=c.claim_dir.parent.parent)
    log.info("returned %s to the intake as %s", c.display_path, display_text(dest.name))
    return dest


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
    for attempt in numbered_names(dest):
        if also_taken is not None and also_taken(attempt):
            continue
        try:
            os.link(src, attempt, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
                raise
            if os.path.lexists(attempt):
                continue
            os.rename(src, attempt)
            return attempt
        os.unlink(src)
        return attempt
    raise AssertionError("unreachable")


def numbered_names(dest: Path) -> Iterator[Path]:
    """``dest``, then ``<stem>-2<suffix>``, ``<stem>-3<suffix>``, ... without end."""
    yield dest
    stem, suffix = _split_suffix(dest.name)
    n = 2
    while True:
        yield dest.with_name(f"{stem}-{n}{suffix}")
        n += 1


def _split_suffix(name: str) -> tuple[str, str]:
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


# --------------------------------------------------------------------------------------------
# Recovering claims left by a crashed run
# --------------------------------------------------------------------------------------------


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


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host (zombies count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True
    state = raw[raw.rfind(b")") + 2 :].split()[:1]
    return state != [b"Z"]


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
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"unreadable claim manifest in {folder}: {e}") from e


def recover_stale_claims(
    *,
    work_dir: Path | str,
    intake_dir: Path | str,
    run_id: str,
    is_alive: Callable[[int], bool] = pid_alive,
    max_age_seconds: float | None = None,
) -> list[Claim]:
    """Adopt claims whose owner is gone, so this run can resume them.

    A claim is stale when it was made on this host by a process that no longer exists (or
    whose pid now belongs to another process), or, from any host, when it is older than
    ``max_age_seconds``. Each stale claim's folder is renamed into this run's folder — the
    rename is the lock, so two recovering runs never adopt the same claim — and its manifest
    is rewritten with this process as owner. Claim folders that hold no file any more (a crash
    before the rename into the claim, or during :func:`complete`) are removed. A file without
    a manifest is adopted with its name as relative path.

    The caller must check storage and the database for whether an adopted file was already
    committed before processing it again.

    Args:
        work_dir: The work area.
        intake_dir: The intake folder (used for files whose manifest is missing).
        run_id: The current run, which adopts the claims.
        is_alive: Tells whether a pid on this host is alive.
        max_age_seconds: Claims older than this are stale whatever their owner's state.

    Returns:
        The adopted claims, now under ``work_dir/processing/<run_id>/``.
    """
    root = Path(work_dir) / PROCESSING_DIR
    if not root.is_dir():
        return []
    adopted: list[Claim] = []
    for claim_dir in sorted(p for p in root.glob("*/*") if p.is_dir()):
        try:
            found = _recover_one(claim_dir, Path(intake_dir), run_id, is_alive, max_age_seconds)
        except AlreadyClaimedError:
            continue
        if found is not None:
            adopted.append(found)
    return adopted


def _recover_one(
    claim_dir: Path,
    intake_dir: Path,
    run_id: str,
    is_alive: Callable[[int], bool],
    max_age_seconds: float | None,
) -> Claim | None:
    try:
        old = load_claim(claim_dir)
    except FileNotFoundError:
        old = _orphan_claim(claim_dir, intake_dir)
        if old is None:
            return None
    except ValueError:
        log.warning("unreadable claim manifest in %s; left for an operator", claim_dir)
        return None
    if not _is_stale(old, is_alive, max_age_seconds):
        return None
    if not os.path.lexists(old.path):
        _discard_claim_dir(claim_dir)
        return None
    return _adopt(old, run_id)


def _orphan_claim(claim_dir: Path, intake_dir: Path) -> Claim | None:
    """A claim folder without a manifest: a crash between ``mkdir`` and the first write."""
    files = [p for p in claim_dir.iterdir() if not p.name.startswith(".")]
    if not files:
        if time.time() - claim_dir.stat().st_mtime > 60:
            _remove_empty_dirs(claim_dir, stop=claim_dir.parent.parent)
        return None
    path = files[0]
    st = os.lstat(path)
    return Claim(
        claim_dir=claim_dir,
        path=path,
        intake_dir=intake_dir,
        relative_path=path.name,
        relative_path_b64=_b64(path.name),
        sha256=None,
        size=st.st_size,
        kind=file_kind(st.st_mode),
        link_target=None,
        claimed_at=datetime.fromtimestamp(st.st_mtime, UTC).isoformat(),
        pid=-1,
        pid_start=None,
        host="",
        run_id=claim_dir.parent.name,
    )


def _is_stale(c: Claim, is_alive: Callable[[int], bool], max_age_seconds: float | None) -> bool:
    if max_age_seconds is not None and _age_seconds(c) > max_age_seconds:
        return True
    if c.pid < 0:
        return True
    if c.host != socket.gethostname():
        return False
    if c.pid == os.getpid():
        return False
    if not is_alive(c.pid):
        return True
    return c.pid_start is not None and process_start_ticks(c.pid) not in (None, c.pid_start)


def _age_seconds(c: Claim) -> float:
    try:
        claimed = datetime.fromisoformat(c.claimed_at)
    except ValueError:
        return float("inf")
    return (datetime.now(UTC) - claimed).total_seconds()


def _adopt(old: Claim, run_id: str) -> Claim:
    run_dir = old.claim_dir.parent.parent / _safe_component(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    new_dir = run_dir / old.claim_dir.name
    try:
        os.rename(old.claim_dir, new_dir)
    except FileNotFoundError as e:
        raise AlreadyClaimedError("该领取记录已被其他进程接管") from e
    _remove_empty_dirs(old.claim_dir.parent, stop=old.claim_dir.parent.parent)
    adopted = replace(
        old,
        claim_dir=new_dir,
        path=new_dir / old.path.name,
        pid=os.getpid(),
        pid_start=process_start_ticks(os.getpid()),
        host=socket.gethostname(),
        run_id=run_id,
        recovered_from=old.run_id,
    )
    if adopted.kind == "regular" and adopted.sha256 is None:
        adopted = replace(adopted, sha256=sha256_file(adopted.path))
    _write_manifest(adopted)
    log.info("recovered claim of %s from run %s", adopted.display_path, old.run_id)
    return adopted
