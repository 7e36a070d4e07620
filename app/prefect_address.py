"""Where the Prefect server is, without importing Prefect.

``dossier serve`` writes its server's address to ``<home>/prefect/server.json`` while it runs;
``dossier ingest`` and ``dossier check`` then run as flows reporting to that server (the same
history as the scheduled runs). ``PREFECT_API_URL`` names a server explicitly and wins. With no
reachable server they run the plain functions directly: no temporary server, no Prefect import.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from config import Settings

#: How long the CLI waits for a server's health answer before running without it.
PROBE_TIMEOUT_SECONDS = 1.0


def address_file(settings: Settings) -> Path:
    return Path(settings.home) / "prefect" / "server.json"


def ui_url(api_url: str) -> str:
    """The dashboard of a Prefect server: its API URL without the trailing ``/api``."""
    return api_url.rstrip("/").removesuffix("/api") + "/"


def write_address(settings: Settings, api_url: str) -> Path:
    """Record the running server's address (serve, while it runs)."""
    path = address_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "api_url": api_url,
        "ui_url": ui_url(api_url),
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def clear_address(settings: Settings) -> None:
    """Forget the address when serve stops (only our own record)."""
    path = address_file(settings)
    with contextlib.suppress(OSError, ValueError, KeyError):
        if json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid():
            path.unlink()


def is_healthy(api_url: str, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_healthy(api_url: str, *, timeout: float = 90.0) -> None:
    """Poll ``<api>/health`` until it answers 200; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_healthy(api_url, timeout=2.0):
            return
        time.sleep(0.5)
    raise TimeoutError(f"Prefect server at {api_url} not healthy after {timeout:.0f}s")


def _recorded(settings: Settings) -> str | None:
    """The address serve recorded, if its process is still alive."""
    try:
        record = json.loads(address_file(settings).read_text(encoding="utf-8"))
        os.kill(int(record["pid"]), 0)
        return str(record["api_url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no file, a broken one, or serve is gone (a stale file)


def reachable_api(settings: Settings) -> str | None:
    """The API URL of a Prefect server that answers now: ``PREFECT_API_URL``, else the one
    ``dossier serve`` recorded; None when neither answers within a second."""
    for candidate in (os.environ.get("PREFECT_API_URL"), _recorded(settings)):
        if candidate and is_healthy(candidate):
            return candidate
    return None


def use_flows(settings: Settings, choice: bool | None) -> bool:
    """Run ``dossier ingest``/``check`` as Prefect flows? ``--prefect``/``--no-prefect`` decide;
    by default only when a server answers, whose address then goes into ``PREFECT_API_URL``
    (read by Prefect's client when it is first imported). ``--prefect`` with no server answering
    falls back to Prefect's own temporary server (slow: tens of seconds)."""
    if choice is False:
        return False
    api = reachable_api(settings)
    if api:
        os.environ["PREFECT_API_URL"] = api
        return True
    return bool(choice)
