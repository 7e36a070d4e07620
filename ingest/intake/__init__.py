"""The intake folder: find complete files, claim them atomically, recover claims left by a crash.

A clerk drops files into the intake folder (sub-folders allowed). A pass:

1. :func:`find_candidates` (``scan``) walks the folder with ``lstat`` only (symlinks are never
   followed, FIFOs never opened), skipping hidden and temporary names.
2. :class:`SettleTracker` (``settle``; or :class:`IntakeWatcher`, which combines both steps)
   takes a file only once its size, mtime and ctime have stayed unchanged for
   ``settle_seconds``.
3. :func:`claim` (``claims``) moves the file with one ``os.rename`` into
   ``work_dir/processing/<run_id>/<unique>/<original name>``; the rename is the lock. After
   the caller has filed, verified and committed everything it calls :func:`complete`; on a
   transient failure it may call :func:`return_to_intake`.
4. :func:`recover_stale_claims` (``recovery``) adopts claims whose owner died (pid gone on this
   host) or that are older than a timeout, so the next run can resume them.

Channels hand files in with :func:`drop_file` (``drop``): written under a temporary name, linked
into place under a free name (never overwriting), with a sidecar naming the submitter that the
claim carries into the manifest (``sidecar``).

The bytes and names on disk are never changed; names are NFC-normalized only for display
and keys (:attr:`Candidate.display_path`).
"""

from ingest.intake.claims import (
    MANIFEST_NAME,
    PROCESSING_DIR,
    Claim,
    claim,
    complete,
    load_claim,
    process_start_ticks,
    return_to_intake,
)
from ingest.intake.drop import drop_file, takeable_name
from ingest.intake.recovery import pid_alive, recover_stale_claims
from ingest.intake.scan import (
    TEMPORARY_SUFFIXES,
    Candidate,
    find_candidates,
    is_ignored_name,
)
from ingest.intake.settle import IntakeWatcher, SettleTracker, settled_candidates

__all__ = [
    "MANIFEST_NAME",
    "PROCESSING_DIR",
    "TEMPORARY_SUFFIXES",
    "Candidate",
    "Claim",
    "IntakeWatcher",
    "SettleTracker",
    "claim",
    "complete",
    "drop_file",
    "find_candidates",
    "is_ignored_name",
    "load_claim",
    "pid_alive",
    "process_start_ticks",
    "recover_stale_claims",
    "return_to_intake",
    "settled_candidates",
    "takeable_name",
]
