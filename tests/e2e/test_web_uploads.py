# ruff: noqa: F811  (pytest fixtures imported from test_web_http)
"""Uploads refused by content before anything is written, 我的上传 with each outcome, the
customer lookup, and the quarantine page (download, re-queue, discard; audited)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, select

from config.errors import ErrorCode
from ingest.intake import claim, complete, drop_file, find_candidates
from ingest.quarantine import list_quarantine, quarantine
from models.audit import AuditEvent
from tests.e2e.test_web_http import (  # noqa: F401  (fixtures)
    WebWorld,
    app,
    client_of,
    csrf_from,
    web_store,
    world,
)


def _intake(world: WebWorld, username: str) -> Path:
    return Path(world.settings.intake_dir or "") / username


def quarantine_upload(
    world: WebWorld, name: str, data: bytes, username: str, customer_code: str | None = None
) -> Path:
    """A file handed in by ``username`` and quarantined by the real intake functions."""
    intake = Path(world.settings.intake_dir or "")
    drop_file(data, name, intake / username, submitted_by=username, customer_code=customer_code)
    (candidate,) = [c for c in find_candidates(intake) if c.path.name == name]
    taken = claim(candidate, work_dir=world.settings.work_dir or "", run_id="run-1")
    dest = quarantine(
        taken,
        quarantine_dir=world.settings.quarantine_dir or "",
        run_id="run-1",
        code=ErrorCode.UNSUPPORTED,
        message="不支持的文件格式：HTML 网页",
    )
    complete(taken)
    return dest


def test_unreadable_upload_is_refused_before_anything_is_written(client_of, world) -> None:
    sales = client_of("sales1")
    token = csrf_from(sales.get("/upload").text)
    files = [
        ("files", ("营业执照.pdf", world.pdf_bytes["a"], "application/pdf")),
        ("files", ("data.json", b'{"a": 1}', "application/json")),
    ]
    refused = sales.post("/upload", data={"csrf_token": token}, files=files)
    assert refused.status_code == 415
    assert "data.json：无法识别的文件内容，未上传" in refused.text
    assert not _intake(world, "sales1").exists()  # not even the good file of the same post
    empty = sales.post(
        "/upload", data={"csrf_token": token}, files=[("files", ("空.pdf", b"", "application/pdf"))]
    )
    assert empty.status_code == 415 and "文件为空" in empty.text
    assert not _intake(world, "sales1").exists()


def test_upload_with_hints_then_my_uploads_shows_each_outcome(client_of, world) -> None:
    sales = client_of("sales1")
    page = sales.get("/upload")
    assert "选择文件" in page.text and "自动识别" in page.text and "PDF" in page.text
    token = csrf_from(page.text)
    code = world.customers["A"]
    ok = sales.post(
        "/upload",
        data={
            "csrf_token": token,
            "customer_code": code.lower(),
            "document_type": "business_license",
        },
        files=[("files", ("执照.pdf", world.pdf_bytes["a"], "application/pdf"))],
    )
    assert ok.status_code == 200 and "已上传 1 个文件" in ok.text
    sidecars = [p for p in _intake(world, "sales1").iterdir() if p.name.startswith(".dropped-")]
    assert len(sidecars) == 1
    assert f'"customer_code": "{code}"' in sidecars[0].read_text(encoding="utf-8")
    other = world.customers["B"]  # sales2's customer: sales1 may not name it
    hidden = sales.post(
        "/upload",
        data={"csrf_token": token, "customer_code": other},
        files=[("files", ("x.pdf", world.pdf_bytes["a"], "application/pdf"))],
    )
    assert hidden.status_code == 400 and not (_intake(world, "sales1") / "x.pdf").exists()
    quarantine_upload(world, "page.html", b"<html><body>hi</body></html>", "sales1")
    quarantine_upload(world, "theirs.html", b"<html>x</html>", "sales2")
    intake = Path(world.settings.intake_dir or "")
    drop_file(b"%PDF-1.4 busy", "在处理.pdf", intake / "sales1", submitted_by="sales1")
    (busy,) = [c for c in find_candidates(intake) if c.path.name == "在处理.pdf"]
    claim(busy, work_dir=world.settings.work_dir or "", run_id="run-2")  # a pass holds it
    mine = sales.get("/uploads").text
    assert "在处理.pdf" in mine and "处理中" in mine
    assert "执照.pdf" in mine and "等待处理" in mine and "data-refresh-seconds" in mine
    assert "page.html" in mine and "不支持的文件格式：HTML 网页" in mine
    assert "theirs.html" not in mine


def test_customer_lookup_searches_name_uscc_and_code_within_visibility(client_of, world) -> None:
    sales1, sales2 = client_of("sales1"), client_of("sales2")
    code = world.customers["A"]
    by_name = sales1.get("/lookup/customers", params={"q": "甲科技"}).json()["customers"]
    assert [c["code"] for c in by_name] == [code]
    uscc = by_name[0]["uscc"]
    assert [
        c["code"] for c in sales1.get("/lookup/customers", params={"q": uscc}).json()["customers"]
    ] == [code]
    assert sales2.get("/lookup/customers", params={"q": code}).json()["customers"] == []
    assert sales1.get("/lookup/customers", params={"q": " "}).json()["customers"] == []


def _events(world: WebWorld, action: str) -> list[AuditEvent]:
    with Session(world.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_quarantine_page_download_requeue_and_discard_are_audited(client_of, world) -> None:
    quarantine_upload(world, "page.html", b"<html>fixed?</html>", "sales1", world.customers["A"])
    quarantine_upload(world, "junk.html", b"<html>junk</html>", "sales2")
    assert client_of("sales1").get("/quarantine").status_code == 403
    reviewer = client_of("rev1")
    page = reviewer.get("/quarantine").text
    assert "不支持的文件格式：HTML 网页" in page and "page.html" in page
    refs = {e.path.name: e.ref for e in list_quarantine(world.settings.quarantine_dir or "")}
    got = reviewer.get("/quarantine/file", params={"ref": refs["page.html"]})
    assert got.status_code == 200 and got.content == b"<html>fixed?</html>"
    assert reviewer.get("/quarantine/file", params={"ref": "../../etc/passwd"}).status_code == 404
    token = csrf_from(page)
    back = reviewer.post(
        "/quarantine/requeue", data={"csrf_token": token, "ref": refs["page.html"]}
    )
    assert back.status_code == 200 and "已送回收件夹重新处理：page.html" in back.text
    assert (_intake(world, "sales1") / "page.html").read_bytes() == b"<html>fixed?</html>"
    (sidecar,) = _intake(world, "sales1").glob(".dropped-*.json")  # submitter and hint kept
    kept = json.loads(sidecar.read_text(encoding="utf-8"))
    assert kept["submitted_by"] == "sales1" and kept["customer_code"] == world.customers["A"]
    (event,) = _events(world, "quarantine.requeue")
    assert event.actor == "rev1" and event.after == {"intake_path": "sales1/page.html"}
    no_reason = reviewer.post(
        "/quarantine/discard", data={"csrf_token": token, "ref": refs["junk.html"]}
    )
    assert "丢弃原因：不能为空" in no_reason.text and _events(world, "quarantine.discard") == []
    reviewer.post(
        "/quarantine/discard",
        data={"csrf_token": token, "ref": refs["junk.html"], "reason": "测试垃圾文件"},
    )
    (gone,) = _events(world, "quarantine.discard")
    assert gone.detail == "测试垃圾文件" and gone.before["name"] == "junk.html"
    assert list(list_quarantine(world.settings.quarantine_dir or "")) == []
    assert "隔离区是空的" in reviewer.get("/quarantine").text
