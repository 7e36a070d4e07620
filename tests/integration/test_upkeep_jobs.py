"""Scheduled upkeep without Prefect (app.upkeep_jobs), on SQLite and PostgreSQL: the backup is
named by China time and rotated (the newest N kept, never the one just written), a failed backup
leaves the older ones untouched, the upkeep report files appear."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from app.context import AppContext
from app.errors import BackupFailedError
from app.upkeep_jobs import run_backup, run_tier_refresh, run_upkeep_report
from archive import cooperations
from archive.backup import MANIFEST
from archive.upkeep import SECTIONS
from archive.users import create_user
from config import load_settings
from config.clock import CHINA_TZ, china_date
from config.errors import ConfigurationError
from models.customer import Customer
from tests.integration.test_integrity import build_clean_archive


@pytest.fixture
def ctx(db_url: str, tmp_home: Path, tmp_path: Path) -> Iterator[AppContext]:
    backups = str(tmp_path / "backups")
    settings = load_settings(home=tmp_home, database_url=db_url, backup_dest=backups, backup_keep=2)
    context = AppContext(settings=settings)
    context.initialize()
    build_clean_archive(context.engine, context.store)
    yield context
    context.engine.dispose()


def _at(day: int, hour: int = 3) -> datetime:
    return datetime(2026, 12, day, hour, 0, tzinfo=CHINA_TZ)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_rotation_keeps_the_newest_n_and_never_the_one_just_written(
    ctx: AppContext, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    first = run_backup(ctx, now=_at(6))
    assert first["name"] == "dossier-backup-20261206-030000"
    assert first["objects"] > 0 and first["database_rows"] > 0
    assert (dest / first["name"] / MANIFEST).is_file()
    run_backup(ctx, now=_at(13))
    third = run_backup(ctx, now=_at(20))
    assert third["deleted"] == ["dossier-backup-20261206-030000"]
    assert _names(dest) == ["dossier-backup-20261213-030000", "dossier-backup-20261220-030000"]
    # a backup named later than now (a clock set back): the one just written still survives
    (dest / "dossier-backup-20261214-unfinished").mkdir()  # not a backup name: never touched
    future = run_backup(ctx, now=datetime(2099, 1, 1, tzinfo=CHINA_TZ))
    assert future["deleted"] == ["dossier-backup-20261213-030000"]
    fourth = run_backup(ctx, now=_at(27), keep=1)  # the newest by name is the future one
    assert fourth["deleted"] == ["dossier-backup-20261220-030000"]
    assert _names(dest) == [
        "dossier-backup-20261214-unfinished", fourth["name"], future["name"]]  # fmt: skip
    again = run_backup(ctx, now=_at(27), keep=5)  # the same second: a second name, not a clash
    assert again["name"] == "dossier-backup-20261227-030000-2"


def test_a_failed_backup_leaves_the_older_ones_untouched(ctx: AppContext, tmp_path: Path) -> None:
    dest = tmp_path / "backups"
    older = run_backup(ctx, now=_at(6))["name"]
    before = (dest / older / MANIFEST).read_bytes()
    not_a_folder = tmp_path / "objects-copy"
    not_a_folder.write_text("a file where the object copy should go")
    with pytest.raises(BackupFailedError) as failed:
        run_backup(ctx, now=_at(13), keep=1, objects_to=not_a_folder.as_uri())
    assert "备份失败" in str(failed.value) and "已有的备份未改动" in str(failed.value)
    assert _names(dest) == [older]
    assert (dest / older / MANIFEST).read_bytes() == before
    with pytest.raises(BackupFailedError, match="FileExistsError|NotADirectoryError"):
        run_backup(ctx, dest=str(not_a_folder))  # the destination is a file


def test_no_destination_is_a_configuration_error(ctx: AppContext) -> None:
    with pytest.raises(ConfigurationError, match="未配置备份位置"):
        run_backup(ctx, dest="")


def test_the_upkeep_report_files_appear(ctx: AppContext) -> None:
    summary = run_upkeep_report(ctx, now=_at(1, 8))
    reports = Path(ctx.settings.home) / "reports"
    assert summary["xlsx"] == str(reports / "upkeep-2026-12.xlsx")
    assert load_workbook(summary["xlsx"]).sheetnames == list(SECTIONS.values())
    data = json.loads(Path(summary["json"]).read_text(encoding="utf-8"))
    assert data["date"] == "2026-12-01"
    assert {k: len(v) for k, v in data["sections"].items()} == summary["counts"]
    assert summary["counts"]["no_follow_up"] == 2  # the two customers have no follow-up yet
    assert sorted(p.name for p in reports.iterdir()) == [
        "upkeep-2026-12.json",
        "upkeep-2026-12.xlsx",
    ]


def test_tier_refresh_follows_changed_thresholds(ctx: AppContext) -> None:
    with ctx.session() as session:
        admin = create_user(session, username="ada", password="secret-pw3", role="admin", actor="t")
        code = session.exec(select(Customer.code).where(Customer.uscc.is_not(None))).one()  # type: ignore[union-attr]
        _, customer = cooperations.add_cooperation(
            session, ctx.settings, admin, code,
            {"name": "年度采购", "signed_date": china_date().isoformat(), "amount": "600000"},
        )  # fmt: skip
        assert customer.value_tier == "高价值"
    assert run_tier_refresh(ctx) == {"changed": 0}  # nothing moved
    raised = AppContext(settings=ctx.settings.model_copy(update={"tier_high_min": 1_000_000}))
    assert run_tier_refresh(raised) == {"changed": 1}
    with raised.session() as session:
        customer = session.exec(select(Customer).where(Customer.code == code)).one()
        assert customer.value_tier == "中价值"
    assert run_tier_refresh(raised) == {"changed": 0}
    raised.engine.dispose()


def test_backup_into_an_s3_prefix_rotates_there(
    ctx: AppContext, s3_endpoint_url: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = AppContext(settings=load_settings(
        home=ctx.settings.home, database_url=ctx.settings.database_url,
        s3_endpoint_url=s3_endpoint_url, s3_region="us-east-1"))  # fmt: skip
    dest = f"s3://{s3_bucket}/backups"
    run_backup(s3, dest=dest, keep=1, now=_at(6))
    second = run_backup(s3, dest=dest, keep=1, now=_at(13))
    assert second["location"] == f"{dest}/dossier-backup-20261213-030000"
    assert second["kept"] == ["dossier-backup-20261213-030000"]
    assert second["deleted"] == ["dossier-backup-20261206-030000"]
    s3.engine.dispose()
