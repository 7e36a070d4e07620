"""Loaded by name into the multiprocessing forkserver of :mod:`ingest.isolation` (its preload
list); it does nothing anywhere else.

In the forkserver it ignores SIGTERM and SIGINT: a stop signal sent to the whole process group
(``systemctl stop``, Ctrl-C) is for the process running the intake pass, which lets its files
finish; the forkserver's death would kill every worker at once. The forkserver still exits
when its parent does (it reads EOF). Workers set both signals back when they start.
"""

from __future__ import annotations

import signal
from pathlib import Path

FORKSERVER_MARK = b"from multiprocessing.forkserver import main"


def _in_forkserver() -> bool:
    try:
        return FORKSERVER_MARK in Path("/proc/self/cmdline").read_bytes()
    except OSError:
        return False


if _in_forkserver():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
