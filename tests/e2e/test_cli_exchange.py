"""``dossier customers template|export|import`` through CliRunner (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cli.main import app
from tests.fixtures.db import make_uscc

runner = CliRunner()
PASSWORD = "cli-password-1"


@pytest.fixture
def home(tmp_home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOSSIER_DATABASE_URL", db_url)
    assert runner.invoke(app, ["init"]).exit_code == 0
    for name, role in (("sam", "sales"), ("ada", "admin")):
        pw = f"{PASSWORD}\n{PASSWORD}\n"
        added = runner.invoke(app, ["users", "add", name, "--role", role], input=pw)
        assert added.exit_code == 0, added.output
    return tmp_home


def _csv(path: Path, rows: list[list[str]]) -> Path:
    header = "客户名称,客户类型,统一社会信用代码,法定代表人,成立时间,地址,联系方式,电子邮箱\n"
    path.write_text(header + "".join(",".join(r) + "\n" for r in rows), encoding="gb18030")
    return path


def _row(n: int, phone: str = "13812345678") -> list[str]:
    return [f"某某{n}号有限公司", "企业客户", make_uscc(n), "张三", "2015-03-12",
            "北京市海淀区1号", phone, f"boss{n}@example.com"]  # fmt: skip


def test_template_import_export_from_the_command_line(home: Path, tmp_path: Path) -> None:
    template = tmp_path / "t.xlsx"
    assert runner.invoke(app, ["customers", "template", "--output", str(template)]).exit_code == 0
    assert "客户资料" in load_workbook(template).sheetnames

    bad = _csv(tmp_path / "in.csv", [_row(1), _row(2, phone="12345"), _row(3)])
    result = runner.invoke(app, ["customers", "import", str(bad), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert not report["committed"] and [(r["row"], r["column"]) for r in report["rejected"]] == [
        (3, "联系方式")
    ]
    rejects = tmp_path / "rejects.csv"
    args = ["customers", "import", str(bad), "--partial", "--rejects", str(rejects), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and json.loads(result.stdout)["created"] == 2
    fixed = rejects.read_text(encoding="utf-8-sig").replace("12345,", "13912345678,")
    rejects.write_text(fixed, encoding="utf-8-sig")
    result = runner.invoke(app, ["customers", "import", str(rejects), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 1

    out = tmp_path / "out.csv"
    refused = runner.invoke(app, ["customers", "export", "-o", str(out), "--full", "-u", "sam"])
    assert refused.exit_code != 0 and "仅管理员" in refused.stderr
    args = ["customers", "export", "-o", str(out), "--format", "csv", "--json", "-u", "ada"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == 3
    text = out.read_text(encoding="utf-8-sig")
    assert "13812345678" not in text and "138****5678" in text and "boss1@" not in text
