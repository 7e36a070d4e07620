"""`dossier serve` starts a real Prefect server and its schedule ingests a dropped file."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.samples import generate, write_sample

DOSSIER = str(Path(sys.executable).with_name("dossier"))


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "PREFECT_"))}
    env.update(
        DOSSIER_HOME=str(tmp_path / "home"),
        DOSSIER_INGEST_INTERVAL_SECONDS="5",
        DOSSIER_SETTLE_SECONDS="0.5",
        DOSSIER_WORKERS="1",
        PREFECT_HOME=str(tmp_path / "prefect-client"),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        OMP_THREAD_LIMIT="1",
    )
    return env


def _documents(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("select id, pdf_key from document").fetchall()
        except sqlite3.OperationalError:
            return []


@pytest.mark.timeout(300)
def test_serve_schedule_ingests_a_dropped_file(tmp_path: Path) -> None:
    env = _env(tmp_path)
    subprocess.run([DOSSIER, "init", "--json"], env=env, check=True, capture_output=True)
    home = tmp_path / "home"
    write_sample(generate("business_license", seed=11, dpi=200), home / "intake" / "lic.png")
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [DOSSIER, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        docs: list[tuple] = []
        while time.monotonic() < deadline and not docs and proc.poll() is None:
            time.sleep(3)
            docs = _documents(home / "dossier.db")
        output = (tmp_path / "serve.log").read_text(errors="replace")
        assert proc.poll() is None, f"dossier serve exited early:\n{output[-3000:]}"
        assert len(docs) == 1, f"no scheduled ingest within the deadline:\n{output[-3000:]}"
        assert docs[0][1].startswith("archive/")
        assert not any((home / "intake").iterdir())
    finally:
        _stop_group(proc, timeout=60)
        log.close()
    # the run was recorded
    with sqlite3.connect(home / "dossier.db") as conn:
        runs = conn.execute("select status, counts from ingest_run").fetchall()
    assert any(json.loads(c).get("needs_review") == 1 for _s, c in runs if c)


def _processes_of(marker: str) -> list[int]:
    """Processes whose environment names ``marker`` (this test's home): what serve left behind."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def _stop_group(proc: subprocess.Popen, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _serve_until_claimed(tmp_path: Path, **extra: str) -> tuple[subprocess.Popen, Path, object]:
    """Start serve (tesseract engine), drop one scan, return once it is claimed."""
    env = _env(tmp_path) | {"DOSSIER_OCR_ENGINE": "tesseract"} | extra
    subprocess.run([DOSSIER, "init", "--json"], env=env, check=True, capture_output=True)
    home = tmp_path / "home"
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [DOSSIER, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    write_sample(generate("business_license", seed=12, dpi=200), home / "intake" / "lic.png")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if not (home / "intake" / "lic.png").exists():
            break  # claimed: the file is being processed now
        time.sleep(0.2)
    return proc, home, log


def _assert_nothing_lost(tmp_path: Path, home: Path) -> str:
    output = (tmp_path / "serve.log").read_text(errors="replace")
    quarantined = [p for p in (home / "quarantine").rglob("*") if p.is_file()]
    assert not quarantined, f"shutdown quarantined a good file: {quarantined}\n{output[-3000:]}"
    left_in_work = [p for p in (home / "work").rglob("lic.png")]
    assert not left_in_work, f"a claim was left behind: {left_in_work}\n{output[-3000:]}"
    time.sleep(2)
    assert not _processes_of(str(home)), "dossier serve left processes behind"
    return output


@pytest.mark.timeout(360)
def test_sigterm_to_the_group_lets_the_file_in_progress_finish(tmp_path: Path) -> None:
    """systemd and Ctrl-C signal the whole group: serve and its flow run finish the file."""
    proc, home, log = _serve_until_claimed(tmp_path, DOSSIER_SHUTDOWN_GRACE_SECONDS="120")
    try:
        assert not (home / "intake" / "lic.png").exists(), "never claimed"
        time.sleep(1.0)  # inside the worker
        os.killpg(proc.pid, signal.SIGTERM)
        started = time.monotonic()
        proc.wait(timeout=200)
        took = time.monotonic() - started
    finally:
        _stop_group(proc, timeout=10)
        log.close()
    output = _assert_nothing_lost(tmp_path, home)
    docs = _documents(home / "dossier.db")
    assert len(docs) == 1 and docs[0][1].startswith("archive/"), output[-3000:]
    assert not (home / "intake" / "lic.png").exists()
    assert proc.returncode == 0, output[-3000:]
    print(f"stopped {took:.1f} s after SIGTERM, the file archived")


@pytest.mark.timeout(300)
def test_sigterm_to_serve_alone_past_the_grace_returns_the_file(tmp_path: Path) -> None:
    """A signal to serve only (docker stop, kill PID) reaches the pass through the stop file;
    with no grace left the file in progress is interrupted and handed back, untouched."""
    proc, home, log = _serve_until_claimed(tmp_path, DOSSIER_SHUTDOWN_GRACE_SECONDS="0")
    try:
        assert not (home / "intake" / "lic.png").exists(), "never claimed"
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        _stop_group(proc, timeout=10)
        log.close()
    output = _assert_nothing_lost(tmp_path, home)
    returned = (home / "intake" / "lic.png").exists()
    archived = _documents(home / "dossier.db")
    assert returned or archived, output[-3000:]
    assert proc.returncode == 0, output[-3000:]
    if returned:  # handed back byte for byte
        original = tmp_path / "original.png"
        write_sample(generate("business_license", seed=12, dpi=200), original)
        assert (home / "intake" / "lic.png").read_bytes() == original.read_bytes()
