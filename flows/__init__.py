"""Prefect flows, the CLI and the scheduler: thin wrappers over ``ingest`` and ``archive``.

Telemetry is switched off before Prefect is imported anywhere (STACK-NOTES: both variables).
"""

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
