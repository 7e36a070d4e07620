"""The review/users/audit CLI through typer's CliRunner, against a temporary home (SQLite and a
local archive folder under DOSSIER_HOME)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from sqlmodel import Session
from typer.testing import CliRunner

from app.context import AppContext
from archive.storage import make_store
from cli.main import app  # the root: its boundary turns errors into one line
from config import Settings
from models import repo
from models.db import make_engine, upgrade_to_head
from models.document import Document
from tests.integration.test_review import add_customer, add_document

runner = CliRunner()
PASSWORD = "cli-password-1"


def run(*args: str, input: str | None = None) -> typer.testing.Result:  # type: ignore[name-defined]
    result = runner.invoke(app, list(args), input=input)
    return result


def run_ok(*args: str, input: str | None = None) -> str:
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def home(settings: Settings) -> Settings:
    AppContext(settings=settings).initialize()  # the CLI never migrates implicitly
    run_ok("users", "add", "rita", "--role", "reviewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    run_ok("users", "add", "sam", "--role", "sales", input=f"{PASSWORD}\n{PASSWORD}\n")
    return settings


@pytest.fixture
def docs(home: Settings) -> dict[str, int]:
    engine = make_engine(home.database_url)
    upgrade_to_head(engine)
    store = make_store(storage_url=home.storage_url)
    store.ensure_ready()
    try:
        with Session(engine, expire_on_commit=False) as session:
            acme = add_customer(session, 1, name="北京某某科技有限公司")
            other = add_customer(session, 2, name="上海另一家贸易有限公司")
            a = add_document(session, store, customer=acme, seed=0, reasons=["expired"])
            b = add_document(session, store, customer=acme, seed=3, document_type="bank_permit")
            c = add_document(session, store, customer=None, seed=0, reasons=["unlinked"])
            return {"a": a.id, "b": b.id, "c": c.id, "other": other.code}  # type: ignore[dict-item]
    finally:
        engine.dispose()


def document(home: Settings, document_id: int) -> Document:
    engine = make_engine(home.database_url)
    try:
        with Session(engine) as session:
            doc = session.get(Document, document_id)
            assert doc is not None
            session.expunge(doc)
            return doc
    finally:
        engine.dispose()


def test_users_add_list_set_role_disable(home: Settings) -> None:
    listed = json.loads(run_ok("users", "list", "--json"))
    assert [(u["username"], u["role"], u["is_active"]) for u in listed] == [
        ("rita", "reviewer", True),
        ("sam", "sales", True),
    ]
    assert "password_hash" not in listed[0]
    assert json.loads(run_ok("users", "set-role", "sam", "admin", "--json"))["role"] == "admin"
    assert json.loads(run_ok("users", "disable", "sam", "--json"))["is_active"] is False
    assert "审核人" in run_ok("users", "list")
    bad = run("users", "set-role", "ghost", "admin")
    assert bad.exit_code == 1 and "ghost" in bad.stderr  # one line from the boundary
    dup = run("users", "add", "rita", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert dup.exit_code == 1 and "已存在" in dup.stderr  # one line from the boundary


def test_users_end_sessions(home: Settings) -> None:
    engine = make_engine(home.database_url)
    try:
        with Session(engine) as session:
            sam = repo.get_user(session, username="sam")
            assert sam is not None
            tokens = [
                repo.create_web_session(
                    session,
                    user_id=int(sam.id or 0),
                    idle=timedelta(hours=1),
                    absolute=timedelta(days=1),
                )[0]
                for _ in range(2)
            ]
            session.commit()
        ended = json.loads(run_ok("users", "end-sessions", "sam", "--json"))
        assert ended == {"username": "sam", "sessions_ended": 2}
        assert "0 个" in run_ok("users", "end-sessions", "sam")
        with Session(engine) as session:
            assert all(repo.find_live_web_session(session, token=t) is None for t in tokens)
            actions = [
                e.action
                for e in repo.list_audit_events(session, entity_type="user", entity_id="sam")
            ]
        assert actions.count("user.end_sessions") == 2
    finally:
        engine.dispose()
    bad = run("users", "end-sessions", "ghost")
    assert bad.exit_code == 1 and "ghost" in bad.stderr


def test_review_list_show_approve_reject_relink(home: Settings, docs: dict[str, int]) -> None:
    queue = json.loads(run_ok("review", "list", "--user", "rita", "--json"))
    assert queue["total"] == 3
    assert [i["id"] for i in queue["items"]] == [docs["a"], docs["c"], docs["b"]]
    assert queue["counts_by_reason"] == {"expired": 1, "unlinked": 1, "second_check": 1}
    assert set(queue["items"][0]) >= {
        "id",
        "document_type",
        "document_type_label",
        "status",
        "status_label",
        "review_reasons",
        "customer",
        "is_anomaly",
    }
    assert all(set(r) == {"code", "label"} for r in queue["items"][0]["review_reasons"])
    shown = json.loads(run_ok("review", "show", str(docs["a"]), "-u", "rita", "--json"))
    assert shown["status"] == "pending_review" and "approve" in shown["allowed_actions"]
    assert "ocr_text" not in shown
    listed = json.loads(run_ok("review", "list", "--user", "rita", "--json"))["items"][0]
    assert {k: shown[k] for k in listed if k in shown} == {
        k: listed[k] for k in listed if k in shown
    }

    approved = json.loads(
        run_ok(
            "review",
            "approve",
            str(docs["a"]),
            "-u",
            "rita",
            "--set",
            "legal_representative=李四",
            "--date",
            "2024-02-03",
            "--json",
        )
    )
    assert approved["status"] == "archived" and approved["pdf_key"].endswith("-2024-02-03.pdf")
    assert approved["fields"]["legal_representative"]["value"] == "李四"
    store = make_store(storage_url=home.storage_url)
    assert store.exists(approved["pdf_key"])

    again = run("review", "approve", str(docs["a"]), "-u", "rita")
    assert again.exit_code == 1 and "已归档" in again.stderr  # one line from the boundary

    rejected = json.loads(
        run_ok("review", "reject", str(docs["b"]), "-u", "rita", "--reason", "图片模糊", "--json")
    )
    assert rejected["status"] == "rejected"

    relinked = json.loads(
        run_ok("review", "relink", str(docs["c"]), docs["other"], "-u", "rita", "--json")
    )
    assert "/上海另一家贸易有限公司/" in relinked["pdf_key"]
    assert document(home, docs["c"]).customer_id is not None

    denied = run("review", "approve", str(docs["c"]), "-u", "sam")
    assert denied.exit_code == 1 and "没有权限" in denied.stderr  # one line from the boundary


def test_claim_release_and_audit(home: Settings, docs: dict[str, int]) -> None:
    run_ok("users", "add", "rosa", "--role", "reviewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    claimed = json.loads(run_ok("review", "claim", str(docs["b"]), "-u", "rita", "--json"))
    assert claimed["status"] == "pending_review"
    assert document(home, docs["b"]).claimed_by == "rita"
    refused = run("review", "claim", str(docs["b"]), "-u", "rosa")
    assert refused.exit_code == 1 and "rita" in refused.stderr  # one line from the boundary
    run_ok("review", "release", str(docs["b"]), "-u", "rita")
    run_ok("review", "reject", str(docs["b"]), "-u", "rosa", "-r", "不是开户许可证")

    trail = json.loads(run_ok("audit", "--document", str(docs["b"]), "--json"))
    assert [e["action"] for e in trail] == [
        "document.reject",
        "document.release",
        "document.claim",
        "document.create",
    ]
    assert trail[0]["actor"] == "rosa" and trail[0]["detail"] == "不是开户许可证"
    assert trail[0]["before"]["status"] == "pending_review"
    mine = json.loads(run_ok("audit", "--user", "rita", "--json"))
    assert {e["action"] for e in mine} == {"document.claim", "document.release"}
    assert "document.reject" in run_ok("audit", "--document", str(docs["b"]))


def test_root_cli_carries_the_review_modules_groups(home: Settings) -> None:
    from cli import review

    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    groups = [g.name for g in review.app.registered_groups]
    assert groups and all(name in result.output for name in groups)


def test_home_is_temporary(home: Settings, tmp_path: Path) -> None:
    assert Path(home.database_url.removeprefix("sqlite:///")).is_relative_to(tmp_path)


def test_review_show_masks_id_numbers_unless_full_which_is_audited(
    home: Settings, docs: dict[str, int]
) -> None:
    from models.audit import AuditEvent
    from tests.fixtures.db import make_id_number

    full_id = make_id_number(7)
    engine = make_engine(home.database_url)
    try:
        with Session(engine) as session:
            document = session.get(Document, docs["a"])
            assert document is not None
            document.fields = {**(document.fields or {}), "id_number": {"value": full_id}}
            session.add(document)
            session.commit()
        shown = json.loads(run_ok("review", "show", str(docs["a"]), "-u", "rita", "--json"))
        assert shown["id"] == docs["a"] and "customer_id" not in shown
        assert full_id not in json.dumps(shown) and "*" in shown["fields"]["id_number"]["value"]
        full = json.loads(
            run_ok("review", "show", str(docs["a"]), "-u", "rita", "--full", "--json")
        )
        assert full["fields"]["id_number"]["value"] == full_id
        with Session(engine) as session:
            events = session.query(AuditEvent).filter_by(action="document.reveal").all()
            assert [e.actor for e in events] == ["rita"]
    finally:
        engine.dispose()


def test_users_email_set_checked_cleared_and_audited(home: Settings) -> None:
    added = run_ok(
        "users", "add", "eve", "--email", "Eve@Example.COM", "--json",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert json.loads(added[added.index("{") :])["email"] == "Eve@example.com"  # after the prompt
    assert (
        json.loads(run_ok("users", "set-email", "sam", "sam@example.com", "--json"))["email"]
        == "sam@example.com"
    )
    assert "sam@example.com" in run_ok("users", "list")
    bad = run("users", "set-email", "sam", "not-an-address")
    assert bad.exit_code != 0 and "电子邮箱格式错误" in bad.stderr
    assert json.loads(run_ok("users", "list", "--json"))[-1]["email"] == "sam@example.com"
    assert json.loads(run_ok("users", "set-email", "sam", "", "--json"))["email"] is None
    engine = make_engine(home.database_url)
    try:
        with Session(engine) as session:
            events = repo.list_audit_events(session, entity_type="user", entity_id="sam")
            changes = [(e.before, e.after) for e in events if e.action == "user.set_email"]
    finally:
        engine.dispose()
    assert changes == [
        ({"email": None}, {"email": "sam@example.com"}),
        ({"email": "sam@example.com"}, {"email": None}),
    ]


def test_documents_show_reads_in_chinese(home: Settings, docs: dict[str, int]) -> None:
    out = run_ok("documents", "show", str(docs["a"]))
    for label in (
        "资料编号",
        "状态",
        "资料类型",
        "客户",
        "入库时间",
        "提取字段",
        "审核原因：已过期",
    ):
        assert label in out, label
    assert "（北京时间）" in out
    # no record key or field code printed as a label (JSON keeps them; `--json` is for programs)
    assert not re.search(r"\b(status_label|document_type|pdf_key|created_at|_meta)\b", out), out
