"""Settling: a file is taken only once its size, mtime and ctime stayed unchanged long enough."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.intake.scan import Candidate, find_candidates


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
