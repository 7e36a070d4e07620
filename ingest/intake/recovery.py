"""Recovering claims left by a crashed run, so the next run can resume them."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ingest.errors import AlreadyClaimedError
from ingest.fsutil import file_kind, fs_b64, remove_empty_dirs, sha256_file
from ingest.intake.claims import (
    PROCESSING_DIR,
    Claim,
    discard_claim_dir,
    load_claim,
    process_start_ticks,
    record_submitter,
    safe_component,
)

log = logging.getLogger("ingest.intake")


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
    before the rename into the claim, or during ``complete``) are removed. A file without
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
        discard_claim_dir(claim_dir)
        return None
    return _adopt(old, run_id)


def _orphan_claim(claim_dir: Path, intake_dir: Path) -> Claim | None:
    """A claim folder without a manifest: a crash between ``mkdir`` and the first write."""
    files = [p for p in claim_dir.iterdir() if not p.name.startswith(".")]
    if not files:
        if time.time() - claim_dir.stat().st_mtime > 60:
            remove_empty_dirs(claim_dir, stop=claim_dir.parent.parent)
        return None
    path = files[0]
    st = os.lstat(path)
    return Claim(
        claim_dir=claim_dir,
        path=path,
        intake_dir=intake_dir,
        relative_path=path.name,
        relative_path_b64=fs_b64(path.name),
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
    run_dir = old.claim_dir.parent.parent / safe_component(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    new_dir = run_dir / old.claim_dir.name
    try:
        os.rename(old.claim_dir, new_dir)
    except FileNotFoundError as e:
        raise AlreadyClaimedError("该领取记录已被其他进程接管") from e
    remove_empty_dirs(old.claim_dir.parent, stop=old.claim_dir.parent.parent)
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
    adopted = record_submitter(adopted)
    log.info("recovered claim of %s from run %s", adopted.display_path, old.run_id)
    return adopted
