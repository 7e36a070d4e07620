"""`dossier serve`: the long-running scheduler.

Schedules need a real Prefect server (the temporary one refuses them, STACK-NOTES), so this
starts ``prefect server start`` unless ``PREFECT_API_URL`` names a server, then serves the
deployments: intake every ``ingest_interval_seconds``, the integrity check on ``integrity_cron``,
the relink pass hourly (``RELINK_CRON``), the e-mail intake every ``mail_interval_seconds``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from config import Settings

log = logging.getLogger("dossier.serve")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_healthy(api_url: str, *, timeout: float = 90.0) -> None:
    """Poll ``<api>/health`` until it answers 200; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(0.5)
    raise TimeoutError(f"Prefect server at {api_url} not healthy after {timeout:.0f}s: {last}")


@contextmanager
def prefect_server(settings: Settings, *, port: int | None = None) -> Iterator[str]:
    """Yield the API URL of a Prefect server: the configured one, or a local one we start."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        yield configured
        return
    port = port or _free_port()
    prefect_home = Path(settings.home) / "prefect"
    prefect_home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    cmd = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log_path = prefect_home / "server.log"
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        wait_until_healthy(api_url)
        log.info("started Prefect server at %s (log: %s)", api_url, log_path)
        yield api_url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


#: The relink pass also runs after every intake pass; hourly it catches customers added by hand.
RELINK_CRON = "17 * * * *"


def serve_forever(settings: Settings) -> None:
    """Start (or reach) a Prefect server and serve dossier's scheduled flows until stopped."""

    def _stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # runs the finally blocks: the server is stopped too

    signal.signal(signal.SIGTERM, _stop)
    with prefect_server(settings) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        # Imported only now: Prefect reads PREFECT_API_URL when its client is first built.
        from prefect import serve
        from prefect.deployments.runner import EntrypointType

        from flows.ingest import ingest_intake
        from flows.integrity import check_archive
        from flows.mail import fetch_mail
        from flows.relink import relink_pending_flow

        serve(
            ingest_intake.to_deployment(
                name="intake",
                interval=settings.ingest_interval_seconds,
                # by module path: loading flows/ingest.py as a script would put flows/ on
                # sys.path, where "ingest" names that file instead of the ingest package
                entrypoint_type=EntrypointType.MODULE_PATH,
                description="Ingest settled files from the intake folder.",
            ),
            check_archive.to_deployment(
                name="nightly-check",
                cron=settings.integrity_cron,
                entrypoint_type=EntrypointType.MODULE_PATH,
                description="Prove every archived document is present, intact and filed.",
            ),
            relink_pending_flow.to_deployment(
                name="hourly-relink",
                cron=RELINK_CRON,
                entrypoint_type=EntrypointType.MODULE_PATH,
                description="Link documents whose customer is now known (also after each intake).",
            ),
            fetch_mail.to_deployment(
                name="mail-intake",
                interval=settings.mail_interval_seconds,
                entrypoint_type=EntrypointType.MODULE_PATH,
                description="Hand the attachments of new e-mail in to the intake.",
            ),
        )
