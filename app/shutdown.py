"""Stopping gracefully: on SIGTERM or SIGINT, take no new file, let the files in progress finish
within ``shutdown_grace_seconds``, then interrupt what is left (its file goes back to the intake,
never to quarantine).

A stop reaches an intake pass in two ways:

- a signal to this process (Ctrl-C, ``systemctl stop``, a signal to the whole process group):
  :func:`graceful_stop` installs the handlers for the duration of the pass (main thread only);
- a stop file named by ``DOSSIER_STOP_FILE`` (``dossier serve`` sets it for the flow runs it
  starts and writes the file when it is told to stop, so a signal to serve alone is enough).

A second signal interrupts at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger("dossier.shutdown")

STOP_FILE_ENV = "DOSSIER_STOP_FILE"
_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_POLL_SECONDS = 0.5


class Stop:
    """A stop request: when it was asked for and until when running work may go on."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self._requested = threading.Event()
        self._lock = threading.Lock()
        self.deadline: float | None = None  # time.time() after which work is interrupted
        self._on_request: list[Callable[[], None]] = []

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def request(self, *, deadline: float | None = None, why: str = "") -> None:
        """Ask to stop; ``deadline`` (epoch seconds) defaults to now plus the grace period.
        Asking again brings the deadline forward (never back)."""
        with self._lock:
            first = not self._requested.is_set()
            if deadline is None:
                deadline = time.time() + (self.grace_seconds if first else 0.0)
            if self.deadline is None or deadline < self.deadline:
                if self.deadline is not None and self.deadline - deadline > 1.0:
                    log.warning("stop hurried (%s): %.0f s left", why, deadline - time.time())
                self.deadline = deadline
            self._requested.set()
            callbacks = list(self._on_request) if first else []
        if first:
            log.warning("stop requested (%s): finishing files in progress for up to %.0f s",
                        why or "signal", max(0.0, self.deadline - time.time()))  # fmt: skip
        for callback in callbacks:
            callback()

    def on_request(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._on_request.append(callback)
            already = self._requested.is_set()
        if already:
            callback()

    def overdue(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline


def write_stop_file(path: Path, *, grace_seconds: float) -> None:
    """Tell the passes that watch ``path`` to stop, with one shared deadline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"deadline": time.time() + grace_seconds}), encoding="utf-8")
    tmp.replace(path)


def _stop_file_deadline(path: Path) -> float | None:
    """The deadline written in the stop file, or None when there is no stop file."""
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["deadline"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return time.time()  # a stop file we cannot read still means stop


def stop_file_says_stop() -> bool:
    """Whether the stop file named by ``DOSSIER_STOP_FILE`` exists (a new pass takes nothing)."""
    name = os.environ.get(STOP_FILE_ENV)
    return bool(name) and Path(name).exists()


@contextlib.contextmanager
def graceful_stop(
    grace_seconds: float, *, on_deadline: Callable[[], None] | None = None
) -> Iterator[Stop]:
    """For the duration of the block, SIGTERM/SIGINT (and the stop file) request a stop.

    Args:
        grace_seconds: How long files already in progress may go on after the request.
        on_deadline: Called once when the grace period is over (interrupt what is left).
    """
    stop = Stop(grace_seconds)
    previous = _install_handlers(stop)
    done = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(stop, done, on_deadline), name="dossier-stop-watch", daemon=True
    )
    watcher.start()
    try:
        if stop_file_says_stop():
            stop.request(deadline=_stop_file_deadline(Path(os.environ[STOP_FILE_ENV])),
                         why="stop file")  # fmt: skip
        yield stop
    finally:
        done.set()
        watcher.join(timeout=5)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _install_handlers(stop: Stop) -> dict[int, object]:
    if threading.current_thread() is not threading.main_thread():
        return {}  # signals reach the main thread only; the stop file still works

    def handler(signum: int, _frame: object) -> None:
        stop.request(why=signal.Signals(signum).name)

    previous = {}
    for signum in _SIGNALS:
        previous[signum] = signal.signal(signum, handler)
    return previous


def _watch(stop: Stop, done: threading.Event, on_deadline: Callable[[], None] | None) -> None:
    """Poll the stop file; call ``on_deadline`` once when the grace period is over."""
    name = os.environ.get(STOP_FILE_ENV)
    fired = False
    while not done.wait(_POLL_SECONDS):
        if name:  # read again each time: a second signal to serve brings the deadline forward
            deadline = _stop_file_deadline(Path(name))
            if deadline is not None:
                stop.request(deadline=deadline, why="stop file")
        if stop.overdue() and not fired:
            fired = True
            log.warning("grace period over: interrupting the files still in progress")
            if on_deadline is not None:
                on_deadline()
