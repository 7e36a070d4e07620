"""The customer-file CLI end to end through CliRunner on ``cli.main.app`` (SQLite, PostgreSQL):
customers add/edit/show/list/tag/untag, contacts, follow-ups, cooperation records, tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.fixtures.db import make_uscc

runner = CliRunner()
PASSWORD = "cli-password-1"


def run(*args: str, user: str | None = None, input: str | None = None):  # type: ignore[no-untyped-def]
    who = ["--user", user] if user else []
    return runner.invoke(app, [*args, *who], input=input)


def ok(*args: str, user: str | None = None) -> object:
    result = run(*args, "--json", user=user)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(*args: str, user: str | None = None) -> str:
    result = run(*args, user=user)
    assert result.exit_code != 0, result.output
    return result.stderr


@pytest.fixture
def home(tmp_home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOSSIER_DATABASE_URL", db_url)
    assert run("init").exit_code == 0
    for name, role in (("sam", "sales"), ("sue", "sales"), ("ada", "admin")):
        added = run("users", "add", name, "--role", role, input=f"{PASSWORD}\n{PASSWORD}\n")
        assert added.exit_code == 0, added.output
    return tmp_home


def _add(name: str, n: int, *more: str, user: str | None = None) -> dict:
    return ok(
        "customers", "add", "--name", name, "--uscc", make_uscc(n), "--legal-rep", "张三",
        "--established", "２０１５-０３-１２", "--address", "北京市海淀区1号", *more, user=user,
    )  # fmt: skip


def test_customer_file_from_the_command_line(home: Path) -> None:
    for tag in ("制造业", "高价值", "成交客户"):
        ok("tags", "add", tag, user="ada")
    assert "没有权限" in refused("tags", "add", "销售自加", user="sam")
    mine = _add("北京某某科技有限公司", 1, "--industry", "制造业", "--tag", "制造业", user="sam")
    theirs = _add("上海某某贸易有限公司", 2, user="sue")
    assert mine["tags"] == ["制造业"] and mine["owner_id"] is not None
    code = mine["code"]
    # Sales users see only their own customers, everywhere.
    assert [c["code"] for c in ok("customers", "list", user="sam")] == [code]
    for args in (("customers", "show", code), ("contacts", "list", code),
                 ("followups", "list", code), ("customers", "tag", code, "高价值")):  # fmt: skip
        assert f"客户 {code} 不存在" in refused(*args, user="sue")
    contact = ok(
        "contacts", "add", code, "--name", "李四", "--mobile", "１３８００１３８０００",
        "--office-phone", "（010）12345678", "--primary", user="sam",
    )  # fmt: skip
    assert contact["mobile"] == "138****8000" and contact["is_primary"] is True
    assert "手机：须为11位手机号" in refused(
        "contacts", "add", code, "--name", "王", "--mobile", "123"
    )
    edited = ok(
        "contacts", "edit", str(contact["id"]), "--title", "采购经理", "--wechat", "", user="sam"
    )
    assert edited["title"] == "采购经理"
    assert "不存在" in refused("contacts", "remove", str(contact["id"]), user="sue")
    follow = ok(
        "followups", "add", code, "--content", "电话沟通", "--channel", "电话",
        "--status", "谈判中", "--at", "2026-11-02 09:30", user="sam",
    )  # fmt: skip
    assert follow["followed_at"] == "2026-11-02T09:30:00+08:00"
    assert follow["customer_follow_up_status"] == "谈判中"
    coop = ok(
        "cooperations", "add", code, "--name", "年度采购", "--signed", "2026-12-01",
        "--amount", "６００，０００", user="sam",
    )  # fmt: skip
    assert coop["customer"]["cumulative_amount"] == "600000.00"
    assert coop["customer"]["value_tier"] == "高价值" and coop["customer"]["level"] == "A类大客户"
    assert "须填写调整原因" in refused(
        "customers", "edit", code, "--level", "C类小客户", user="sam"
    )
    over = ok(
        "customers", "edit", code, "--level", "C类小客户", "--level-reason", "试单客户", user="sam"
    )
    assert (over["level"], over["level_reason"], over["manual_fields"]) == (
        "C类小客户", "试单客户", ["level"],
    )  # fmt: skip
    stale = refused("customers", "edit", code, "--notes", "x", "--version", "1", user="sam")
    assert "请刷新后重新编辑" in stale
    assert "没有权限" in refused("customers", "edit", code, "--owner", "sue", user="sam")
    tagged = ok("customers", "tag", code, "高价值", "成交客户", user="sam")
    assert tagged["tags"] == ["制造业", "成交客户", "高价值"]
    assert "没有权限" in refused("customers", "show", code, "--full", user="sam")
    assert "没有权限" in refused("contacts", "list", code, "--full", user="sam")
    assert ok("contacts", "list", code, "--full", user="ada")[0]["mobile"] == "13800138000"
    shown = ok("customers", "show", code, user="sam")
    assert [c["name"] for c in shown["contacts"]] == ["李四"]
    assert len(shown["follow_ups"]) == 1 and len(shown["cooperations"]) == 1
    # Filtering by a tag combination and a status; the admin sees everyone.
    both = ok(
        "customers",
        "list",
        "--tag",
        "制造业",
        "--tag",
        "高价值",
        "--status",
        "潜在客户",
        user="ada",
    )
    assert [c["code"] for c in both] == [code]
    assert ok("customers", "list", "--tag", "制造业", "--status", "流失客户", user="ada") == []
    assert {c["code"] for c in ok("customers", "list", user="ada")} == {code, theirs["code"]}
    # The one list query (archive.customer_query): a contact's name finds its customer; neither
    # customer has documents, so both are incomplete and none has an expiring one.
    assert [c["code"] for c in ok("customers", "list", "--search", "李四", user="ada")] == [code]
    incomplete = ok("customers", "list", "--incomplete", user="ada")
    assert {c["code"] for c in incomplete} == {code, theirs["code"]}
    assert ok("customers", "list", "--complete", user="ada") == []
    assert ok("customers", "list", "--expiring", user="ada") == []
    report = ok("tags", "report", user="ada")
    assert {(c["customer"], c["tag"]) for c in report["contradictions"]} == {(code, "成交客户")}
    assert "没有权限" in refused("tags", "report", user="sam")
    merged = ok("tags", "merge", "高价值", "成交客户", user="ada")
    assert merged == {"source": "高价值", "target": "成交客户", "moved": 0}
    assert ok("customers", "untag", code, "成交客户", user="sam")["tags"] == ["制造业"]
    names = {t["name"]: t["customers"] for t in ok("tags", "list")}
    assert names == {"制造业": 1, "成交客户": 0}


def test_tag_limit_and_bad_input_from_the_command_line(home: Path) -> None:
    for n in range(6):
        ok("tags", "add", f"标签{n}")
    code = _add("杭州某某有限公司", 3)["code"]
    ok("customers", "tag", code, *(f"标签{n}" for n in range(5)))
    assert "每个客户最多5个标签" in refused("customers", "tag", code, "标签5")
    assert "标签“没有”不存在" in refused("customers", "tag", code, "没有")
    ok("tags", "retire", "标签5")
    ok("customers", "untag", code, "标签0")
    assert "已停用" in refused("customers", "tag", code, "标签5")
    assert "--tier 的值无效" in refused("customers", "list", "--tier", "超高")
    assert "合同金额" in refused("cooperations", "add", code, "--name", "x", "--amount", "-1")


def test_admin_merges_duplicates_from_the_command_line(home: Path) -> None:
    kept = _add("北京某某科技有限公司", 4)["code"]
    dup = _add("北京某某科技 (有限公司)", 5)
    assert [s["code"] for s in dup["similar"]] == [kept]
    ok("contacts", "add", dup["code"], "--name", "乙")
    assert "没有权限" in refused("customers", "merge", kept, dup["code"], user="sam")
    merged = ok("customers", "merge", kept, dup["code"], user="ada")
    assert merged["removed"] == dup["code"] and len(merged["moved"]["contacts"]) == 1
    assert [c["name"] for c in ok("contacts", "list", kept)] == ["乙"]
    assert f"客户 {dup['code']} 不存在" in refused("customers", "show", dup["code"])


def test_customer_show_reads_in_chinese(home: Path) -> None:
    code = _add("杭州某某物流有限公司", 7, "--industry", "制造业", user="sam")["code"]
    assert run("followups", "add", code, "--content", "电话回访", user="sam").exit_code == 0
    result = run("customers", "show", code, user="sam")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for label in (
        "客户编号",
        "客户名称",
        "客户类型",
        "企业客户",
        "所属行业",
        "创建时间",
        "（北京时间）",
    ):
        assert label in out, label
    assert "跟进 20" in out and "T0" not in out and "T1" not in out and "T2" not in out
    # record keys and option codes are for --json only
    for key in ("customer_type", "enterprise", "created_at", "status_label", "owner_id"):
        assert key not in out, key
