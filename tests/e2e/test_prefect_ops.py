"""Running on Prefect as operators do (issue 14): serve's dashboard works and shows the
deployments and a finished run (real Chromium); serve records its server's address, and
``dossier check`` reports into serve's history; an idle intake makes no flow run and no
artifact; and ``dossier deploy --pool`` registers the jobs on a work pool that a real
``prefect worker`` runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from bench.samples import generate, write_sample
from config import load_settings
from flows.serve import prefect_server
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_serve import DOSSIER, _documents, _env, _processes_of, _stop_group

PREFECT = str(Path(sys.executable).with_name("prefect"))
INGEST_REPORT = "ingest-report"


def _api(api_url: str, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{api_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def _runs_of(api_url: str, flow_name: str) -> list[dict[str, Any]]:
    return _api(api_url, "/flow_runs/filter", {"flows": {"name": {"any_": [flow_name]}}})


def _wait_for(predicate: Any, timeout: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1.0)
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def _address(home: Path) -> dict[str, Any] | None:
    try:
        return json.loads((home / "prefect" / "server.json").read_text())
    except (OSError, ValueError):
        return None


@pytest.mark.timeout(600)
def test_serve_ui_cli_history_and_no_empty_artifacts(tmp_path: Path) -> None:
    env = _env(tmp_path) | {"DOSSIER_OCR_ENGINE": "tesseract"}
    home = tmp_path / "home"
    subprocess.run([DOSSIER, "init", "--json"], env=env, check=True, capture_output=True)
    log_path = tmp_path / "serve.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [DOSSIER, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        record = _wait_for(lambda: _address(home), 240, "serve's address file", log_path)
        api, ui = record["api_url"], record["ui_url"]
        assert record["pid"] == proc.pid and ui == api.removesuffix("api")
        write_sample(generate("business_license", seed=21, dpi=200), home / "intake" / "lic.png")
        _wait_for(lambda: _documents(home / "dossier.db"), 300, "the intake run", log_path)
        time.sleep(3)  # the run's end is recorded
        runs_then = len(_runs_of(api, "ingest-intake"))
        time.sleep(15)  # three more looks at an idle intake (every 5 s): no run, no artifact
        assert len(_runs_of(api, "ingest-intake")) == runs_then

        # dossier check, with no PREFECT_API_URL: serve's address file sends it to serve
        check = subprocess.run(
            [DOSSIER, "check", "--mode", "metadata", "--json"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert check.returncode in (0, 1), check.stderr[-2000:]
        by_cli = [r for r in _runs_of(api, "check-archive") if r["deployment_id"] is None]
        assert [r["state_type"] for r in by_cli] == ["COMPLETED"], by_cli  # not the schedule's

        ingest_runs = _runs_of(api, "ingest-intake")
        assert {r["state_type"] for r in ingest_runs} == {"COMPLETED"}, ingest_runs
        reports = _api(api, "/artifacts/filter", {"artifacts": {"key": {"any_": [INGEST_REPORT]}}})
        assert len(reports) == 1, f"{len(ingest_runs)} runs, {len(reports)} intake artifacts"

        _dashboard_shows_the_deployments_and_runs(ui)
    finally:
        _stop_group(proc, timeout=120)
        log.close()
    assert _address(home) is None, "serve left its address behind"
    time.sleep(2)
    assert not _processes_of(str(home)), "dossier serve left processes behind"


def _dashboard_shows_the_deployments_and_runs(ui: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{ui}deployments", wait_until="networkidle")
            for name in ("intake", "nightly-check", "monthly-upkeep"):
                expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=60_000)
            page.goto(f"{ui}runs", wait_until="networkidle")
            expect(page.get_by_text("ingest-intake").first).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Completed").first).to_be_visible(timeout=60_000)
            assert "Can't connect" not in page.content()
        finally:
            browser.close()


@pytest.mark.timeout(600)
def test_deploy_to_a_work_pool_and_a_worker_runs_the_intake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    env = _env(tmp_path) | {
        "DOSSIER_OCR_ENGINE": "tesseract",
        "DOSSIER_BACKUP_DEST": str(tmp_path / "backups"),
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    home = tmp_path / "home"
    subprocess.run([DOSSIER, "init", "--json"], env=env, check=True, capture_output=True)
    log_path = tmp_path / "worker.log"
    with prefect_server(load_settings(home=tmp_path / "server-home")) as api:
        env["PREFECT_API_URL"] = api
        deployed = subprocess.run(
            [DOSSIER, "deploy", "--pool", "dossier-test", "--json"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert deployed.returncode == 0, deployed.stderr[-3000:]
        names = {row["deployment"] for row in json.loads(deployed.stdout)}
        assert {
            "ingest-intake/intake",
            "check-archive/nightly-check",
            "backup-archive/weekly-backup",
            "upkeep-report/monthly-upkeep",
        } <= names
        assert {row["pool"] for row in json.loads(deployed.stdout)} == {"dossier-test"}
        log = log_path.open("wb")
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "dossier-test"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            write_sample(generate("business_license", seed=22, dpi=200), home / "intake" / "l.png")
            docs = _wait_for(
                lambda: _documents(home / "dossier.db"), 360, "the worker's intake", log_path
            )
            assert len(docs) == 1 and docs[0][1].startswith("archive/")
            runs = _runs_of(api, "ingest-intake")
            assert any(r["state_type"] == "COMPLETED" for r in runs)
        finally:
            _stop_group(worker, timeout=60)
            log.close()
    time.sleep(2)
    assert not _processes_of(str(home)), "the worker left processes behind"
    assert not os.environ.get("PREFECT_API_URL")
