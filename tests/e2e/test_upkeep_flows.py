"""The scheduled-upkeep flows run once each as real flow runs (a Prefect test server), their
summaries and Chinese markdown artifacts checked; ``dossier serve --list`` and ``dossier backup``
without DEST on a real home (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.context import app_context
from cli.main import app
from flows.backup import backup_archive
from flows.tiers import refresh_tiers_flow
from flows.upkeep import upkeep_report_flow
from tests.integration.test_integrity import build_clean_archive

runner = CliRunner()


@pytest.fixture(scope="module")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def home(tmp_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOSSIER_BACKUP_DEST", str(tmp_path / "backups"))
    monkeypatch.setenv("DOSSIER_BACKUP_KEEP", "1")
    assert runner.invoke(app, ["init"]).exit_code == 0
    ctx = app_context()
    build_clean_archive(ctx.engine, ctx.store)
    ctx.engine.dispose()
    return tmp_home


def _artifact(key: str) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        ours = [a for a in client.read_latest_artifacts() if a.key == key]
    assert ours, key
    return str(ours[0].data)


def test_each_flow_runs_once_and_publishes_a_chinese_artifact(
    prefect_harness: None, home: Path, tmp_path: Path
) -> None:
    backup = backup_archive()
    assert (tmp_path / "backups" / backup["name"] / "manifest.json").is_file()
    artifact = _artifact("archive-backup")
    assert "定期备份" in artifact and backup["name"] in artifact
    report = upkeep_report_flow()
    assert Path(report["xlsx"]).is_file() and Path(report["json"]).is_file()
    assert "月度维护报告" in _artifact("upkeep-report")
    assert refresh_tiers_flow() == {"changed": 0}
    assert "价值层级重算" in _artifact("tier-refresh")


def test_cli_backup_without_dest_rotates_in_the_configured_folder(
    home: Path, tmp_path: Path
) -> None:
    names = []
    for _ in range(2):
        done = runner.invoke(app, ["backup", "--json"])
        assert done.exit_code == 0, done.output
        names.append(json.loads(done.stdout)["name"])
    assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == [names[-1]]


def test_serve_list_prints_every_schedule_in_china_time(tmp_home: Path) -> None:
    done = runner.invoke(app, ["serve", "--list", "--json"])
    assert done.exit_code == 0, done.output
    rows = {r["deployment"]: r for r in json.loads(done.stdout)}
    assert rows["backup-archive/weekly-backup"]["next_run"] is None  # no backup_dest: off
    assert rows["mail-intake/mail-intake"]["schedule"] == "未启用（未设置 mailboxes）"
    assert rows["ingest-intake/intake"]["schedule"] == "每 60 秒"
    monthly = rows["upkeep-report/monthly-upkeep"]
    assert monthly["timezone"] == "Asia/Shanghai"
    assert monthly["next_run"].endswith("08:00+08:00") and monthly["next_run"][8:10] == "01"
    text = runner.invoke(app, ["serve", "--list"])
    assert "月度维护报告" in text.stdout and "定期备份" in text.stdout


def test_serve_builds_the_upkeep_deployments_on_china_time(tmp_home: Path) -> None:
    from config import load_settings
    from flows.serve import deployments

    upkeep = {"nightly-tiers", "monthly-upkeep", "weekly-backup"}

    def crons(**values: object) -> dict[str, tuple[str, str]]:
        built = deployments(load_settings(**values))
        return {d.name: (d.schedules[0].schedule.cron, d.schedules[0].schedule.timezone)
                for d in built if d.name in upkeep}  # fmt: skip

    assert crons() == {"nightly-tiers": ("30 1 * * *", "Asia/Shanghai"),
                       "monthly-upkeep": ("0 8 1 * *", "Asia/Shanghai")}  # fmt: skip
    with_backup = crons(backup_dest=str(tmp_home / "b"), schedule_timezone="Asia/Urumqi")
    assert with_backup["weekly-backup"] == ("0 3 * * 0", "Asia/Urumqi")
    names = {d.name for d in deployments(load_settings())}  # what serve serves: the jobs on
    assert names == {"intake", "nightly-check", "hourly-relink", "nightly-tiers", "monthly-upkeep",
                     "notify"}  # always: a webhook may be saved on the web
