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


def test_backup_keeps_the_configuration_and_restore_reports_differences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The taxonomy in use, the understanding rules and the settings (no secret) are in the
    backup with their SHA-256; a restore into an instance using other files says which differ,
    one using the backup's copies finds them the same, and a damaged copy refuses the restore."""
    import hashlib

    from config.taxonomy import DEFAULT_TAXONOMY_FILE, DEFAULT_UNDERSTANDING_FILE

    custom = tmp_path / "taxonomy.toml"
    custom.write_text(
        DEFAULT_TAXONOMY_FILE.read_text(encoding="utf-8").replace(
            '"物流", "其他"', '"物流", "农业", "其他"'
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("DOSSIER_HOME", str(tmp_path / "a"))
    monkeypatch.setenv("DOSSIER_TAXONOMY_FILE", str(custom))
    monkeypatch.setenv("DOSSIER_SECRET_KEY", "not-in-any-backup-7f3a")
    monkeypatch.setenv("DOSSIER_WEBHOOK_URL", "https://hooks.example.com/T0K3N-secret-path")
    assert runner.invoke(app, ["init"]).exit_code == 0
    ctx = app_context()
    build_clean_archive(ctx.engine, ctx.store)
    ctx.engine.dispose()
    copies = (tmp_path / "copies").as_uri()
    result = runner.invoke(app, ["backup", str(tmp_path / "bk"), "--objects-to", copies])
    assert result.exit_code == 0 and "配置文件 3 个" in result.stdout, result.output

    bk = tmp_path / "bk"
    manifest = json.loads((bk / "manifest.json").read_text(encoding="utf-8"))
    listed = {e["what"]: e for e in manifest["config"]}
    assert set(listed) == {"taxonomy", "understanding", "settings"}
    for entry in listed.values():
        assert hashlib.sha256((bk / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    assert (bk / listed["taxonomy"]["file"]).read_bytes() == custom.read_bytes()
    assert (
        bk / listed["understanding"]["file"]
    ).read_bytes() == DEFAULT_UNDERSTANDING_FILE.read_bytes()
    saved = (bk / listed["settings"]["file"]).read_text(encoding="utf-8")
    settings = json.loads(saved)
    assert settings["taxonomy_file"] == str(custom)
    assert settings["home"] == str(tmp_path / "a")
    assert not {"secret_key", "database_url", "storage_url", "webhook_url"} & set(settings)
    everything = b"".join(p.read_bytes() for p in bk.iterdir() if p.is_file())
    assert b"not-in-any-backup-7f3a" not in everything and b"T0K3N" not in everything

    monkeypatch.delenv("DOSSIER_TAXONOMY_FILE")  # instance b: the bundled taxonomy
    monkeypatch.setenv("DOSSIER_HOME", str(tmp_path / "b"))
    result = runner.invoke(app, ["restore", str(bk), "--json"])
    assert result.exit_code == 0, result.output
    status = {e["what"]: e for e in json.loads(result.stdout)["config"]}
    assert status["taxonomy"]["status"] == "differs"
    assert status["taxonomy"]["in_use"] == str(DEFAULT_TAXONOMY_FILE)
    assert status["understanding"]["status"] == "same"
    assert {"home", "taxonomy_file"} <= set(status["settings"]["keys"])

    monkeypatch.setenv("DOSSIER_HOME", str(tmp_path / "c"))  # c uses the backup's taxonomy copy
    monkeypatch.setenv("DOSSIER_TAXONOMY_FILE", str(bk / listed["taxonomy"]["file"]))
    result = runner.invoke(app, ["restore", str(bk)])
    assert result.exit_code == 0, result.output
    assert "资料分类与选项（taxonomy）：与备份相同" in result.stdout
    assert "设置（不含密钥）与备份不同" in result.stdout and "home" in result.stdout

    (bk / listed["understanding"]["file"]).write_bytes(b"# changed\n")
    monkeypatch.setenv("DOSSIER_HOME", str(tmp_path / "d"))
    result = runner.invoke(app, ["restore", str(bk)])
    assert result.exit_code != 0 and "配置文件缺失或已损坏" in result.stderr
