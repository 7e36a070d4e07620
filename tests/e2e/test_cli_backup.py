"""``dossier backup`` / ``dossier restore`` end to end (SQLite + local folders): the restored
instance passes ``dossier check``; a second restore over it is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.context import app_context
from cli.main import app
from tests.integration.test_integrity import build_clean_archive

runner = CliRunner()


def test_backup_then_restore_into_a_new_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_HOME", str(tmp_path / "a"))
    assert runner.invoke(app, ["init"]).exit_code == 0
    ctx = app_context()
    code = build_clean_archive(ctx.engine, ctx.store).customers["ent"].code
    ctx.engine.dispose()
    copies = (tmp_path / "copies").as_uri()
    args = ["backup", str(tmp_path / "bk"), "--objects-to", copies, "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["copied"] == 12

    monkeypatch.setenv("DOSSIER_HOME", str(tmp_path / "b"))
    result = runner.invoke(app, ["restore", str(tmp_path / "bk"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["objects"] == 12
    check = runner.invoke(app, ["check", "--no-prefect", "--json"])
    assert check.exit_code == 0, check.output
    assert json.loads(check.stdout)["counts"]["documents"] == 6
    zipped = tmp_path / "ent.zip"
    result = runner.invoke(app, ["customers", "dossier", code, "-o", str(zipped), "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["documents"]) == 4 and zipped.stat().st_size > 0
    again = runner.invoke(app, ["restore", str(tmp_path / "bk")])
    assert again.exit_code != 0 and "不是空的" in again.stderr
