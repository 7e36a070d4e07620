"""Reliability table (issue 11, Measures): regenerates docs/reliability.md.

    PYTHONPATH=. .venv/bin/python -m bench.reliability [--out docs/reliability.md] [--skip hostile]

Rows measured here (each with real processes, files and sockets, nothing mocked):

- kill points: a local-store ``put`` SIGKILLed at every file-system step
  (tests/integration/test_storage_crash.py's child); survived = nothing or one complete,
  reusable object afterwards; extra copies = objects beyond one.
- hostile files: every file of tests/resources/hostile through one intake pass (SQLite, local
  store); quarantined with a specific reason, crashes (internal errors), hangs (timeouts).
- outage modes: one scan through a pass whose S3 endpoint is down (nothing listening),
  refusing (503 at once), frozen (accepts, never answers) or slow (503 after a delay); lost =
  the file neither filed nor back in the intake byte for byte.

- CLI bad inputs: every case of tests/e2e/test_cli_errors.py (each a real ``dossier`` process on
  a bad input: one short stderr line, no traceback, the documented exit code); clean = passed.
- web probes: the attack probes of tests/e2e (ids out of range, JSON errors, cookies and headers,
  CSRF, login throttling, sales isolation, role checks, search visibility, sessions), each over
  real HTTP; held = passed.

The last two run pytest on those files and count the cases from its JUnit XML, so the table and
the suite can never disagree. Heavy (OCR of a few dozen files): run on a quiet machine.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HOSTILE = REPO / "tests" / "resources" / "hostile"


def kill_points(scratch: Path) -> dict[str, int]:
    from archive.storage import LocalObjectStore
    from tests.integration.test_storage_crash import DATA, run_child

    tried = survived = extra = 0
    for kill_at in range(1, 30):
        root = scratch / f"kill-{kill_at}"
        rc = run_child(root, kill_at)
        store = LocalObjectStore(root)
        keys = [o.key for o in store.iter_objects("")]
        if rc == 0:
            break
        tried += 1
        sha = hashlib.sha256(DATA).hexdigest()
        ok = keys == [] or (len(keys) == 1 and store.holding(keys[0], sha256=sha) is not None)
        survived += ok
        extra += max(0, len(keys) - 1)
    return {"tried": tried, "survived": survived, "extra_copies": extra}


def _pass(home: Path, *, storage: dict[str, Any], files: list[Path]) -> Any:
    from app.intake_pass import run_pass
    from archive.storage import make_store
    from models.db import make_engine, upgrade_to_head
    from tests.fixtures.ingest import open_services, test_settings

    settings = test_settings(home=home, workers=1, file_timeout_seconds=120.0)
    for f in files:
        shutil.copyfile(f, Path(settings.intake_dir) / f.name)
    engine = make_engine(settings.database_url)
    upgrade_to_head(engine)
    store = make_store(**{"storage_url": (home / "archive").as_uri(), **storage})
    if "s3_endpoint_url" not in storage:
        store.ensure_ready()
    with open_services(settings=settings, engine=engine, store=store) as services:
        report = run_pass(services, settle=False)
    engine.dispose()
    return settings, report


def hostile(scratch: Path) -> dict[str, int]:
    files = sorted(p for p in HOSTILE.iterdir() if p.is_file() and p.name != "MANIFEST.tsv")
    _, report = _pass(scratch / "hostile", storage={}, files=files)
    reasons = Counter(o.reason for o in report.outcomes if o.kind in ("quarantined", "duplicate"))
    return {
        "tried": len(files),
        "quarantined_with_reason": sum(n for r, n in reasons.items() if r and r != "internal"),
        "crashes": reasons.get("internal", 0) + (len(files) - len(report.outcomes)),
        "hangs": reasons.get("timeout", 0),
    }


class _Answer503(http.server.BaseHTTPRequestHandler):
    delay = 0.0

    def _answer(self) -> None:
        time.sleep(self.delay)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def outage_server(mode: str) -> Iterator[str]:
    """An endpoint URL behaving as ``mode``: down, refusing, frozen or slow."""
    if mode == "down":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        yield f"http://127.0.0.1:{port}"
        return
    if mode == "frozen":
        server = socket.create_server(("127.0.0.1", 0))
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(server.accept()[0])
                except OSError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.getsockname()[1]}"
        finally:
            stop.set()
            thread.join(5)
            for c in held:
                c.close()
            server.close()
        return
    handler = type("H", (_Answer503,), {"delay": 0.5 if mode == "slow" else 0.0})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def outages(scratch: Path) -> dict[str, dict[str, float]]:
    from bench.samples import generate, write_sample

    sample = write_sample(generate("business_license", seed=5, dpi=200), scratch / "scan.png", None)
    digest = hashlib.sha256(sample.read_bytes()).hexdigest()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # dummy: never real ones
        os.environ[name] = "testing"
    results = {}
    for mode in ("down", "refusing", "frozen", "slow"):
        with outage_server(mode) as endpoint:
            started = time.monotonic()
            storage = {
                "storage_url": "s3://outage/dossier",
                "s3_endpoint_url": endpoint,
                "s3_region": "us-east-1",
                "s3_connect_timeout_seconds": 1.0,
                "s3_read_timeout_seconds": 2.0,
                "s3_max_attempts": 2,
            }
            home = scratch / f"outage-{mode}"
            settings, report = _pass(home, storage=storage, files=[sample])
        back = Path(settings.intake_dir) / sample.name
        kept = back.is_file() and hashlib.sha256(back.read_bytes()).hexdigest() == digest
        results[mode] = {
            "tried": 1,
            "lost": 0 if kept else 1,
            "seconds": round(time.monotonic() - started, 1),
            "outcome": report.outcomes[0].kind if report.outcomes else "none",
        }
    return results


CLI_PROBES = ["tests/e2e/test_cli_errors.py"]
WEB_PROBES = [
    "tests/e2e/test_web_hardening.py",
    "tests/e2e/test_web_http.py::test_pages_need_login_and_cookie_is_httponly_samesite",
    "tests/e2e/test_web_http.py::test_login_throttling_is_visible",
    "tests/e2e/test_web_http.py::test_posts_without_csrf_token_are_refused",
    "tests/e2e/test_web_http.py::test_sales_gets_404_for_another_owners_document_and_customer",
    "tests/e2e/test_web_http.py::test_reviewer_cannot_manage_users_admin_can",
    "tests/e2e/test_web_http.py::test_search_respects_visibility",
]


def probe_tests(targets: list[str], scratch: Path) -> dict[str, int]:
    """Run ``targets`` with pytest; tried = cases run, held = cases passed (from JUnit XML)."""
    report = scratch / f"junit-{len(list(scratch.glob('junit-*')))}.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            *targets,
        ],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        check=False,
    )
    cases = list(ET.parse(report).getroot().iter("testcase"))
    tried = [c for c in cases if c.find("skipped") is None]
    failed = [c for c in tried if c.find("failure") is not None or c.find("error") is not None]
    return {"tried": len(tried), "held": len(tried) - len(failed)}


def render(
    kills: dict,
    hostile_row: dict | None,
    outage_rows: dict | None,
    cli_row: dict | None = None,
    web_row: dict | None = None,
) -> str:
    lines = [
        "# Reliability",
        "",
        "Regenerated by `PYTHONPATH=. .venv/bin/python -m bench.reliability` (issue 11). Every",
        "row must read 0 lost, 0 extra copies, 0 crashes, 0 hangs, 0 tracebacks.",
        "",
        "| measure | tried | result |",
        "|---|---|---|",
        f"| kill points (local put, SIGKILL at each file-system step) | {kills['tried']} | "
        f"{kills['survived']} survived, {kills['extra_copies']} extra copies |",
    ]
    if hostile_row:
        h = hostile_row
        lines.append(
            f"| hostile files (tests/resources/hostile) | {h['tried']} | "
            f"{h['quarantined_with_reason']} quarantined with a reason, {h['crashes']} crashes, "
            f"{h['hangs']} hangs |"
        )
    for mode, r in (outage_rows or {}).items():
        lines.append(
            f"| storage outage: {mode} | {r['tried']} | {r['lost']} files lost "
            f"(outcome {r['outcome']}, {r['seconds']} s) |"
        )
    if cli_row:
        lines.append(
            f"| CLI bad inputs (tests/e2e/test_cli_errors.py, real processes) | {cli_row['tried']} "
            f"| {cli_row['held']} one clean line with the documented exit code, "
            f"{cli_row['tried'] - cli_row['held']} tracebacks or wrong codes |"
        )
    if web_row:
        lines.append(
            f"| web probes (tests/e2e, real HTTP, SQLite and PostgreSQL) | {web_row['tried']} | "
            f"{web_row['held']} held, {web_row['tried'] - web_row['held']} broken |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "reliability.md")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["hostile", "outage", "cli", "web"]
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dossier-reliability-") as tmp:
        scratch = Path(tmp)
        kills = kill_points(scratch)
        hostile_row = None if "hostile" in args.skip else hostile(scratch)
        outage_rows = None if "outage" in args.skip else outages(scratch)
        cli_row = None if "cli" in args.skip else probe_tests(CLI_PROBES, scratch)
        web_row = None if "web" in args.skip else probe_tests(WEB_PROBES, scratch)
    text = render(kills, hostile_row, outage_rows, cli_row, web_row)
    args.out.write_text(text, encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
