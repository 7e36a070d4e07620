"""app.shutdown: a real signal or the stop file requests a stop; the deadline hook fires once."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from app.shutdown import STOP_FILE_ENV, graceful_stop, stop_file_says_stop, write_stop_file


def test_a_signal_requests_a_stop_and_the_handler_is_restored_after() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with graceful_stop(60) as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # the handler runs between bytecodes of the main thread
        assert stop.requested
        assert stop.deadline is not None and stop.deadline > time.time() + 50
        os.kill(os.getpid(), signal.SIGINT)  # a second signal: no grace left
        time.sleep(0.1)
        assert stop.overdue()
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_stop_file_requests_a_stop_and_the_deadline_hook_fires_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop_file = tmp_path / "stop.json"
    monkeypatch.setenv(STOP_FILE_ENV, str(stop_file))
    fired: list[float] = []
    hook_ran = threading.Event()

    def on_deadline() -> None:
        fired.append(time.time())
        hook_ran.set()

    with graceful_stop(60, on_deadline=on_deadline) as stop:
        assert not stop.requested and not stop_file_says_stop()
        write_stop_file(stop_file, grace_seconds=0.5)
        assert stop_file_says_stop()
        assert hook_ran.wait(5)
        assert stop.requested
        time.sleep(1.2)
    assert len(fired) == 1


def test_a_stop_file_present_at_the_start_means_take_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop_file = tmp_path / "stop.json"
    monkeypatch.setenv(STOP_FILE_ENV, str(stop_file))
    write_stop_file(stop_file, grace_seconds=30)
    with graceful_stop(60) as stop:
        assert stop.requested
        assert stop.deadline is not None and stop.deadline < time.time() + 31
