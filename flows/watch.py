"""``dossier ingest --watch``: run a pass whenever the intake changes, and while files settle."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from watchfiles import watch

from config import load_settings
from ingest.intake import find_candidates

log = logging.getLogger("dossier.watch")


def watch_intake(*, run_once: Callable[[], object], stop_after: float | None = None) -> None:
    """Block, running ``run_once`` after intake changes and until pending files have settled.

    Args:
        run_once: One ingest pass (it takes only settled files).
        stop_after: Stop after this many seconds (tests); None runs until interrupted.
    """
    settings = load_settings()
    settings.ensure_dirs()
    deadline = None if stop_after is None else time.monotonic() + stop_after
    run_once()  # whatever is already waiting
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
        if changed or pending or settings.intake_s3_url:  # the S3 intake is polled each minute
            run_once()
