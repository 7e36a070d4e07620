"""``dossier ingest --watch``: run a pass whenever the intake changes, and while files settle;
stop after a pass that was told to stop (Ctrl-C, SIGTERM: :mod:`app.shutdown`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from watchfiles import watch

from config import Settings, load_settings
from ingest.intake import PROCESSING_DIR, find_candidates

log = logging.getLogger("dossier.watch")


def watch_intake(
    *, run_once: Callable[[], dict[str, object]], stop_after: float | None = None
) -> None:
    """Block, running ``run_once`` after intake changes and until pending files have settled.

    Args:
        run_once: One ingest pass (it takes only settled files); returns its report.
        stop_after: Stop after this many seconds (tests); None runs until interrupted.
    """
    settings = load_settings()
    settings.ensure_dirs()
    deadline = None if stop_after is None else time.monotonic() + stop_after
    if run_once().get("stopped"):  # whatever is already waiting
        return
    while deadline is None or time.monotonic() < deadline:
        pending = next(iter(find_candidates(settings.intake_dir)), None) is not None
        timeout_ms = int(max(settings.settle_seconds, 1) * 1000) if pending else 60_000
        if deadline is not None:
            timeout_ms = max(100, min(timeout_ms, int((deadline - time.monotonic()) * 1000)))
        changed = False
        for changes in watch(
            settings.intake_dir, rust_timeout=timeout_ms, yield_on_timeout=True, recursive=True
        ):
            changed = bool(changes)  # an empty set means the timeout passed
            break
        # the S3 intake is polled each minute
        if (changed or pending or settings.intake_s3_url) and run_once().get("stopped"):
            return


def intake_has_work(settings: Settings) -> bool:
    """Whether an intake pass could find something: a file in the intake, a claim in the work
    folder (in progress, or left by a crash for a pass to adopt), or an S3 intake to look at
    (its listing is the pass's own first step). ``dossier serve`` starts an intake run only
    then, so an idle local intake makes no flow run at all."""
    if settings.intake_s3_url:
        return True
    if next(iter(find_candidates(settings.intake_dir)), None) is not None:
        return True
    claims = Path(settings.work_dir or settings.home) / PROCESSING_DIR
    return claims.is_dir() and any(p.is_dir() for p in claims.glob("*/*"))
