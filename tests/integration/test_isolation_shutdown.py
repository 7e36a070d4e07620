"""Stopping the process that owns the pool (serve shutting down) must not blame the file.

A stop signal sent to the whole process group (systemd, Ctrl-C) must not kill the
multiprocessing forkserver (its death kills every worker): it ignores SIGTERM and SIGINT
(ingest.forkserver_signals, preloaded). Should it be lost anyway, the worker dies too and its
exit status reads 255: a retryable interruption (the claim goes back to the intake), never a
crash that quarantines.
A pool told to drain starts no new call; one interrupted kills the running ones; both raise
the retryable :class:`WorkerInterruptedError`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from multiprocessing import forkserver
from pathlib import Path

import pytest

from app.intake_pass import is_transient
from ingest.errors import WorkerInterruptedError
from ingest.isolation import IsolatedPool


@pytest.mark.timeout(120)
def test_losing_the_forkserver_mid_file_is_a_retryable_interruption() -> None:
    with IsolatedPool(1, timeout_seconds=60, memory_limit_mb=None) as pool:
        pool.run(time.sleep, 0)  # the forkserver is up
        server_pid = forkserver._forkserver._forkserver_pid
        assert server_pid
        killer = threading.Timer(1.0, os.kill, (server_pid, signal.SIGKILL))
        killer.start()
        try:
            with pytest.raises(WorkerInterruptedError) as info:
                pool.run(time.sleep, 30)
        finally:
            killer.cancel()
    assert is_transient(info.value)
    assert "中断" in str(info.value)


@pytest.mark.timeout(120)
def test_a_stop_signal_to_the_forkserver_does_not_touch_the_running_call() -> None:
    with IsolatedPool(1, timeout_seconds=60, memory_limit_mb=None) as pool:
        pool.run(time.sleep, 0)
        server_pid = forkserver._forkserver._forkserver_pid
        ignored = _ignored_signals(server_pid)
        assert {signal.SIGTERM, signal.SIGINT} <= ignored
        for signum in (signal.SIGTERM, signal.SIGINT):
            threading.Timer(0.5, os.kill, (server_pid, signum)).start()
        assert pool.run(_sleep_then, 2.0, "done") == "done"
        assert os.path.exists(f"/proc/{server_pid}")


def _ignored_signals(pid: int) -> set[int]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            mask = int(line.split()[1], 16)
            return {n for n in range(1, 64) if mask & (1 << (n - 1))}
    return set()


def _sleep_then(seconds: float, value: str) -> str:
    time.sleep(seconds)
    return value


@pytest.mark.timeout(120)
def test_a_draining_pool_starts_nothing_and_an_interrupt_stops_what_runs() -> None:
    with IsolatedPool(1, timeout_seconds=60, memory_limit_mb=None) as pool:
        killer = threading.Timer(1.0, pool.interrupt)
        killer.start()
        started = time.monotonic()
        try:
            with pytest.raises(WorkerInterruptedError) as running:
                pool.run(time.sleep, 30)
        finally:
            killer.cancel()
        assert time.monotonic() - started < 15
        with pytest.raises(WorkerInterruptedError) as queued:
            pool.run(time.sleep, 0)
    assert is_transient(running.value) and is_transient(queued.value)
    with IsolatedPool(1, timeout_seconds=60, memory_limit_mb=None) as pool:
        pool.drain()
        with pytest.raises(WorkerInterruptedError):
            pool.run(time.sleep, 0)
