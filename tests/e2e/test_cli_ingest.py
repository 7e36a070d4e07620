"""``dossier ingest`` as a user runs it: a real subprocess, DOSSIER_HOME set, no Prefect server
reachable, so the plain functions run directly (no temporary server, no Prefect import):
``--now --json`` over two scans, then the table output over one more scan.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.ingest import REPO_ROOT, SMALL_DPI, drop_sample, intake_files

DOSSIER = Path(sys.executable).with_name("dossier")
FILE_FIELDS = {
    "source",
    "outcome",
    "sha256",
    "reason",
    "message",
    "quarantine_path",
    "pages",
    "seconds",
    "documents",
}
DOCUMENT_FIELDS = {
    "id",
    "status",
    "document_type",
    "customer_code",
    "pdf_key",
    "original_key",
    "review_reasons",
}


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env.update(
        DOSSIER_HOME=str(home),
        DOSSIER_TARGET_DPI=str(SMALL_DPI),
        DOSSIER_WORKERS="2",
        PREFECT_HOME=str(home.parent / "prefect"),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        OMP_THREAD_LIMIT="1",
        COLUMNS="200",
    )
    env.pop("PREFECT_API_URL", None)
    return env


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DOSSIER), *args],
        cwd=home.parent,
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=400,
    )


@pytest.mark.timeout(900)
def test_dossier_ingest_json_then_table(tmp_path: Path) -> None:
    home = tmp_path / "home"
    intake = home / "intake"
    drop_sample(intake, "营业执照.png", "business_license", seed=81)
    (intake / "坏文件.pdf").write_bytes(b"%PDF-1.4\n this is not a pdf at all")

    initialized = run_cli(home, "init")  # the CLI never migrates implicitly
    assert initialized.returncode == 0, initialized.stderr
    result = run_cli(home, "ingest", "--now", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert set(report) == {"run_id", "counts", "files", "relink", "stopped"}
    assert report["stopped"] is False
    # the relink pass after the run looked at what is unlinked or provisional; nothing to move
    assert report["relink"]["linked"] == [] and report["relink"]["refile_failed"] == []
    by_source = {f["source"]: f for f in report["files"]}
    assert set(by_source) == {"营业执照.png", "坏文件.pdf"}
    for f in report["files"]:
        assert set(f) == FILE_FIELDS
    license_file = by_source["营业执照.png"]
    assert license_file["outcome"] in ("archived", "needs_review")
    (doc,) = license_file["documents"]
    assert set(doc) == DOCUMENT_FIELDS
    assert doc["document_type"] == "business_license"
    assert doc["pdf_key"].startswith("archive/") and doc["pdf_key"].endswith(".pdf")
    bad = by_source["坏文件.pdf"]
    assert bad["outcome"] == "quarantined" and bad["reason"] == "corrupt"
    assert Path(bad["quarantine_path"]).is_file()
    assert sum(report["counts"].values()) == 2
    assert intake_files_of(home) == []

    # the table: every file of the run is listed
    drop_sample(intake, "开户许可证.png", "bank_permit", seed=82)
    (intake / "说明.txt").write_text("不是扫描件", encoding="utf-8")
    table = run_cli(home, "ingest", "--now")
    assert table.returncode == 0, table.stderr[-3000:]
    assert "开户许可证.png" in table.stdout
    assert "说明.txt" in table.stdout
    assert "收件处理结果" in table.stdout
    assert "不支持的文件格式" in table.stdout  # the 原因 column, in Chinese
    assert "bank_permit" not in table.stdout and "pending_review" not in table.stdout
    # no temporary Prefect server was started: it would have made its database here
    assert not list((tmp_path / "prefect").rglob("*.db")), list((tmp_path / "prefect").rglob("*"))


@pytest.mark.timeout(300)
def test_without_a_server_ingest_starts_at_once_and_never_imports_prefect(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_cli(home, "init").returncode == 0
    probe = (
        "import sys, time, runpy; sys.argv = ['dossier', 'ingest', '--now', '--json'];"
        "from cli.main import run; code = run(sys.argv[1:]);"
        "print('PREFECT' if 'prefect' in sys.modules else 'NO-PREFECT', file=sys.stderr);"
        "sys.exit(code)"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT, env=cli_env(home), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert "NO-PREFECT" in result.stderr
    assert json.loads(result.stdout)["files"] == []
    assert took < 30, f"an empty ingest took {took:.1f} s"  # loose: a shared, loaded machine


def intake_files_of(home: Path) -> list[Path]:
    from config import load_settings

    return intake_files(load_settings(home=home))
