"""The foundation CLI: init, customers add/list/show, documents list/show, version."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.fixtures.db import make_id_number, make_uscc

runner = CliRunner()


@pytest.fixture
def home(tmp_home: Path) -> Path:
    result = runner.invoke(app, ["init", "--json"])
    assert result.exit_code == 0, result.output
    where = json.loads(result.stdout)
    assert where["home"] == str(tmp_home)
    assert Path(where["intake"]).is_dir() and Path(where["quarantine"]).is_dir()
    return tmp_home


def invoke_json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_init_is_idempotent(home: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert (home / "dossier.db").exists()


def test_add_list_show_customers_with_stable_json(home: Path) -> None:
    uscc = make_uscc(1)
    added = invoke_json(
        "customers", "add", "--name", "北京某某科技有限公司", "--uscc", uscc,
        "--legal-rep", "张三", "--established", "2015-03-12", "--address", "北京市海淀区1号",
        "--phone", "13800138000",
    )
    assert added["code"].startswith("CUS") and len(added["code"]) == 12
    assert added["customer_type_label"] == "企业客户" and added["status_label"] == "潜在客户"
    assert added["phone"] == "138****8000"  # masked in output
    person = invoke_json(
        "customers", "add", "--name", "王五", "--type", "个人客户",
        "--id-number", make_id_number(2),
    )
    assert "*" in person["id_number"]  # never a full ID number in output
    listed = invoke_json("customers", "list")
    assert {c["code"] for c in listed} == {added["code"], person["code"]}
    shown = invoke_json("customers", "show", added["code"])
    assert shown["uscc"] == uscc and shown["documents"] == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--uscc", "91350100M000100Y44"], "统一社会信用代码"),
        (["--uscc", make_uscc(3), "--phone", "12345"], "联系方式"),
        (["--uscc", make_uscc(4), "--industry", "炼金术"], "所属行业"),
        ([], "统一社会信用代码"),  # required for an enterprise
    ],
)
def test_invalid_values_are_refused_clearly_and_nothing_is_written(
    home: Path, args: list[str], words: str
) -> None:
    base = ["customers", "add", "--name", "坏数据有限公司", "--legal-rep", "李四",
            "--established", "2015-03-12", "--address", "上海市1号"]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code != 0
    assert words in result.stderr + result.output
    assert invoke_json("customers", "list") == []


def test_documents_list_and_show_json(home: Path) -> None:
    assert invoke_json("documents", "list") == []
    result = runner.invoke(app, ["documents", "show", "999"])
    assert result.exit_code != 0


def test_version_lists_components(home: Path) -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and "prefect 3.8.8" in result.output


def test_missing_records_are_reported_by_name(home: Path) -> None:
    result = runner.invoke(app, ["documents", "show", "999"])
    assert result.exit_code != 0 and "资料不存在" in result.stderr
    result = runner.invoke(app, ["customers", "show", "CUS209901999"])
    assert result.exit_code != 0 and "客户 CUS209901999 不存在" in result.stderr


def test_commands_refuse_a_database_that_is_not_migrated(tmp_home: Path) -> None:
    result = runner.invoke(app, ["customers", "list"])
    assert result.exit_code == 3
    assert "dossier init" in result.stderr
