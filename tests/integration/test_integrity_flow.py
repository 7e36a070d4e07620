"""The ``check_archive`` flow (on Prefect's test harness) and the ``dossier check`` command.

Both run against a real archive in a temporary dossier home (SQLite, local store, quarantine).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.context import AppContext, app_context
from app.integrity_check import quarantine_items, run_integrity_check
from cli.check import register
from config import Settings
from flows.integrity import check_archive, render_markdown
from ingest.quarantine import quarantine
from tests.integration.test_integrity import Archive, build_clean_archive, make_pdf


@pytest.fixture(scope="module")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def home_archive(settings: Settings) -> Iterator[Archive]:
    """A clean archive in the home the ``settings`` fixture points DOSSIER_HOME at."""
    ctx = app_context(check_schema=False)  # initialized just below
    ctx.initialize()
    yield build_clean_archive(ctx.engine, ctx.store)
    ctx.engine.dispose()


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.command("version")(lambda: None)  # a second command keeps "check" a sub-command
    register(root)
    return root


def test_flow_records_findings_and_publishes_an_artifact(
    prefect_harness: None, home_archive: Archive, settings: Settings
) -> None:
    from prefect.client.orchestration import get_client

    intake_file = Path(settings.home) / "broken.pdf"
    intake_file.write_bytes(b"%PDF-1.4 broken")
    quarantine(intake_file, quarantine_dir=settings.quarantine_dir, run_id="test",
               code="corrupt", now=datetime.now().astimezone() - timedelta(days=30))
    home_archive.store.delete(home_archive.docs["permit"].pdf_key)

    summary = check_archive(mode="full", repair=False)

    kinds = sorted((f["kind"], f["status"]) for f in summary["findings"])
    assert kinds == [("object_missing", "new"), ("quarantine_stale", "new")]
    assert summary["exit_code"] == 2
    with get_client(sync_client=True) as client:
        artifacts = client.read_latest_artifacts()
    ours = [a for a in artifacts if a.key == "archive-integrity"]
    assert ours and "object_missing" in str(ours[0].data)


def test_quarantine_items_are_plain_entries(settings: Settings) -> None:
    src = Path(settings.home) / "x.bin"
    src.write_bytes(b"\x00\x01")
    quarantine(src, quarantine_dir=settings.quarantine_dir, run_id="t", code="unsupported")
    (item,) = quarantine_items(settings.quarantine_dir)
    assert item.reason == "unsupported" and item.name.endswith("/x.bin")
    assert item.quarantined_at.tzinfo is not None


def test_cli_exit_codes_json_and_report(home_archive: Archive, tmp_path: Path) -> None:
    runner = CliRunner()
    app = _cli()
    clean = runner.invoke(app, ["check", "--no-prefect", "--json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.stdout)["findings"] == []

    stray = "archive/个人客户/2024/Q2/李四/多余.pdf"
    home_archive.store.put(stray, io.BytesIO(make_pdf(1, "stray")))
    report = tmp_path / "report.json"
    warn = runner.invoke(app, ["check", "--no-prefect", "--mode", "metadata",
                               "--output", str(report)])
    assert warn.exit_code == 1, warn.output
    assert "无记录引用的对象" in warn.stdout and "orphan" not in warn.stdout
    saved = json.loads(report.read_text(encoding="utf-8"))
    assert [(f["kind"], f["object_key"]) for f in saved["findings"]] == [("orphan", stray)]

    home_archive.store.delete(home_archive.docs["ind_form"].original_key)
    critical = runner.invoke(app, ["check", "--no-prefect", "--mode", "incremental", "--json"])
    assert critical.exit_code == 2, critical.output
    statuses = sorted((f["kind"], f["status"]) for f in json.loads(critical.stdout)["findings"])
    assert statuses == [("object_missing", "new"), ("orphan", "open")]

    repaired = runner.invoke(app, ["check", "--no-prefect", "--repair", "--json"])
    assert repaired.exit_code == 2  # the findings of this run; the repairs show in the next
    assert [a["action"] for a in json.loads(repaired.stdout)["repairs"]] == ["lost_found"]
    after = runner.invoke(app, ["check", "--no-prefect", "--json"])
    assert after.exit_code == 2
    assert sorted((f["kind"], f["status"]) for f in json.loads(after.stdout)["findings"]) == [
        ("object_missing", "open"), ("orphan", "resolved")]


def test_markdown_lists_findings(home_archive: Archive) -> None:
    home_archive.store.delete(home_archive.docs["license"].original_key)
    ctx = AppContext(settings=app_context().settings)
    summary = run_integrity_check(ctx, mode="metadata")
    text = render_markdown(summary)
    assert "| critical | object_missing | new |" in text
    assert home_archive.docs["license"].original_key in text


def test_check_that_cannot_run_exits_3_not_a_finding_code(tmp_path, monkeypatch) -> None:
    """Monitoring must tell "could not check" from "found problems" (1 warnings, 2 critical)."""
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("DOSSIER_HOME", str(tmp_path / "never-initialized"))
    result = CliRunner().invoke(app, ["check", "--no-prefect"])
    assert result.exit_code == 3


def test_cli_deep_opens_every_pdf_again(home_archive: Archive) -> None:
    runner, app = CliRunner(), _cli()
    pdfs = len(home_archive.docs)

    def opened(*args: str) -> int:
        result = runner.invoke(app, ["check", "--no-prefect", "--json", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["counts"]["opened_pdfs"]

    assert opened() == pdfs  # first full run: nothing proven yet
    assert opened() == 0  # same bytes, facts kept: no PDF opened again
    assert opened("--deep") == pdfs
