"""Stopping the process that owns the pool (serve shutting down) must not blame the file.

When ``dossier serve`` is stopped, its process group gets SIGTERM and the multiprocessing
forkserver dies with it; the worker then dies too and its exit status reads 255. That is a
retryable interruption (the claim goes back to the intake), never a crash that quarantines.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from multiprocessing import forkserver

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
        killer = threading.Timer(1.0, os.kill, (server_pid, signal.SIGTERM))
        killer.start()
        try:
            with pytest.raises(WorkerInterruptedError) as info:
                pool.run(time.sleep, 30)
        finally:
            killer.cancel()
    assert is_transient(info.value)
    assert "中断" in str(info.value)
