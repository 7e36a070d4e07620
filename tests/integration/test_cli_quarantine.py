# ruff: noqa: F811  (pytest fixtures imported from test_cli_review)
"""``dossier quarantine list|requeue|discard`` and the Chinese ``review show`` / ingest table,
through typer's CliRunner on the root app, against a temporary home."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from sqlmodel import Session, select

from cli.ingest import _outcome_table
from config import Settings
from config.errors import ErrorCode
from ingest.intake import claim, complete, drop_file, find_candidates
from ingest.quarantine import quarantine
from models.audit import AuditEvent
from models.db import make_engine
from tests.integration.test_cli_review import (  # noqa: F401  (fixtures)
    docs,
    home,
    run,
    run_ok,
)


def _quarantined(settings: Settings, name: str, data: bytes, username: str) -> None:
    intake = Path(settings.intake_dir or "")
    drop_file(data, name, intake / username, submitted_by=username)
    (candidate,) = [c for c in find_candidates(intake) if c.path.name == name]
    taken = claim(candidate, work_dir=settings.work_dir or "", run_id="run-1")
    quarantine(
        taken,
        quarantine_dir=settings.quarantine_dir or "",
        run_id="run-1",
        code=ErrorCode.ENCRYPTED,
    )
    complete(taken)


def _actions(settings: Settings) -> list[tuple[str, str | None]]:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            events = session.exec(
                select(AuditEvent)
                .where(AuditEvent.entity_type == "quarantine")
                .order_by(AuditEvent.id)
            ).all()
            return [(e.action, e.detail) for e in events]
    finally:
        engine.dispose()


def test_quarantine_list_requeue_discard(home: Settings) -> None:
    _quarantined(home, "a.pdf", b"%PDF-1.4 locked", "sam")
    _quarantined(home, "b.pdf", b"%PDF-1.4 other", "sam")
    listed = run_ok("quarantine", "list")
    assert "文件已加密" in listed and "sam" in listed
    entries = json.loads(run_ok("quarantine", "list", "--json"))["entries"]
    refs = {e["name"]: e["ref"] for e in entries}
    assert {e["reason"] for e in entries} == {"encrypted"}
    assert {e["label"] for e in entries} == {"文件已加密"}
    assert "已送回收件夹" in run_ok("quarantine", "requeue", refs["a.pdf"])
    assert (Path(home.intake_dir or "") / "sam" / "a.pdf").read_bytes() == b"%PDF-1.4 locked"
    missing = run("quarantine", "requeue", refs["a.pdf"])
    assert missing.exit_code != 0 and "隔离区中没有该文件" in missing.stderr
    no_reason = run("quarantine", "discard", refs["b.pdf"], "--reason", " ")
    assert no_reason.exit_code != 0 and "丢弃原因" in no_reason.stderr
    run_ok("quarantine", "discard", refs["b.pdf"], "--reason", "重复扫描")
    assert json.loads(run_ok("quarantine", "list", "--json"))["entries"] == []
    assert _actions(home) == [("quarantine.requeue", None), ("quarantine.discard", "重复扫描")]


def test_review_show_prints_chinese_labels(home: Settings, docs: dict[str, int]) -> None:
    text = run_ok("review", "show", str(docs["a"]), "-u", "rita")
    assert "状态：待审核" in text and "资料类型：" in text and "待审核原因：" in text
    assert "可执行操作：" in text and "审核通过" in text
    assert "status:" not in text and "document_type" not in text


def test_ingest_table_shows_chinese_types_statuses_and_reasons(home: Settings) -> None:
    report = {
        "run_id": "12345678-aaaa",
        "files": [
            {
                "source": "执照.png",
                "outcome": "needs_review",
                "reason": None,
                "message": None,
                "quarantine_path": None,
                "documents": [
                    {
                        "id": 1,
                        "document_type": "business_license",
                        "status": "pending_review",
                        "pdf_key": "archive/x.pdf",
                        "review_reasons": ["second_check", "expired"],
                    }
                ],
            },
            {
                "source": "说明.txt",
                "outcome": "quarantined",
                "reason": "unsupported",
                "message": "无法识别的文件内容",
                "quarantine_path": "/q/说明.txt",
                "documents": [],
            },
        ],
    }
    console = Console(width=200, record=True)
    console.print(_outcome_table(report, home.taxonomy))
    out = console.export_text()
    assert "营业执照 待审核" in out and "待审核" in out
    assert home.taxonomy.reason_label("expired") in out
    assert "不支持的文件格式：无法识别的文件内容" in out
    assert "business_license" not in out and "pending_review" not in out


def test_discard_keeps_the_file_when_the_audit_cannot_be_written(home: Settings) -> None:
    """The audit event is written before the file goes: a database that refuses it stops the
    discard, and the quarantined file is still there."""
    _quarantined(home, "c.pdf", b"%PDF-1.4 keep me", "sam")
    (entry,) = json.loads(run_ok("quarantine", "list", "--json"))["entries"]
    engine = make_engine(home.database_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event "
                "BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
            )
    finally:
        engine.dispose()
    refused = run("quarantine", "discard", entry["ref"], "--reason", "重复扫描")
    assert refused.exit_code != 0
    quarantined = [p for p in Path(home.quarantine_dir or "").rglob("c.pdf")]
    assert [p.read_bytes() for p in quarantined] == [b"%PDF-1.4 keep me"]
