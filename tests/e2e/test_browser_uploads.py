# ruff: noqa: F811  (pytest fixtures imported from test_upload_ingest and test_browser)
"""Uploads and the quarantine in a real headless Chromium, with the real intake pass between.

A sales user's unreadable file is refused on the page and nothing reaches the intake; a good
scan (with a customer picked by search) and a broken PDF are uploaded, shown as 等待处理 on
我的上传, then filed and quarantined by the intake pass and shown with their outcomes; a reviewer
re-queues the broken one from /quarantine, which puts it back into the uploader's intake folder,
audited, and relinks a document to a customer found by searching its name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from app.intake_pass import run_pass
from bench.samples import generate, write_sample
from models.audit import AuditEvent
from tests.e2e.test_browser import page  # noqa: F401
from tests.e2e.test_upload_ingest import base_url, world  # noqa: F401
from tests.e2e.test_web_http import PASSWORD, WebWorld
from tests.fixtures.ingest import open_services


def _sign_in(page: Page, username: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)


def _upload(page: Page, name: str, data: bytes) -> None:
    page.set_input_files(
        "#upload-files",
        files=[
            {"name": name, "mimeType": "application/octet-stream", "buffer": data},
        ],
    )
    expect(page.locator("#upload-file-names")).to_contain_text(name)
    page.get_by_role("button", name="上传", exact=True).click()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(600)
def test_upload_refusal_outcomes_and_quarantine_requeue(
    page: Page, world: WebWorld, tmp_path: Path
) -> None:
    intake = Path(world.settings.intake_dir or "") / "sales1"
    _sign_in(page, "sales1")
    page.goto("/upload")
    expect(page.locator("label.file-button")).to_have_text("选择文件")
    _upload(page, "notes.json", b'{"not": "a scan"}')
    expect(page.locator(".flash.error")).to_contain_text("notes.json：无法识别的文件内容，未上传")
    assert not intake.exists()

    page.locator("#upload-customer").fill("甲科技")
    option = page.locator("#upload-customer-options option")
    expect(option).to_have_count(1)
    code = world.customers["A"]
    assert option.get_attribute("value") == code
    page.locator("#upload-customer").fill(code)
    expect(page.locator('[data-picked-for="upload-customer"]')).to_contain_text(
        "北京甲科技有限公司"
    )
    scan = write_sample(generate("business_license", seed=44), tmp_path / "scan.png")
    _upload(page, "执照.png", scan.read_bytes())
    expect(page.locator(".flash")).to_contain_text("已上传 1 个文件")
    _upload(page, "坏文件.pdf", b"%PDF-1.4\n this is not a pdf at all")
    page.goto("/uploads")
    rows = page.locator("#uploads-table tr.upload-row")
    expect(rows).to_have_count(2)
    expect(page.locator('tr[data-state="waiting"]')).to_have_count(2)

    with open_services(
        settings=world.settings, engine=world.engine, store=world.store, workers=1
    ) as services:
        report = run_pass(services, settle=False)
    assert sorted(o.kind for o in report.outcomes) == ["needs_review", "quarantined"]
    page.reload()
    filed = page.locator("tr.upload-row", has_text="执照.png")
    expect(filed.locator(".state-badge")).to_have_text("待审核")
    expect(filed.get_by_role("link")).to_have_count(1)
    broken = page.locator("tr.upload-row", has_text="坏文件.pdf")
    expect(broken.locator(".state-badge")).to_have_text("已隔离")
    expect(broken).to_contain_text("文件损坏或无法读取")

    _sign_in(page, "rev1")
    (filed_doc,) = next(o for o in report.outcomes if o.kind == "needs_review").documents
    page.goto(f"/documents/{filed_doc.document_id}")  # the uploader's customer hint, prefilled
    expect(page.locator("#relink-form")).to_contain_text("上传人指定的客户：北京甲科技有限公司")
    expect(page.locator("#relink-customer")).to_have_value(code)
    page.goto("/quarantine")
    row = page.locator("tr.quarantine-row", has_text="坏文件.pdf")
    expect(row).to_contain_text("文件损坏或无法读取")
    row.get_by_role("button", name="重新处理").click()
    expect(page.locator(".flash")).to_contain_text("已送回收件夹重新处理：坏文件.pdf")
    expect(page.locator("tr.quarantine-row")).to_have_count(0)
    assert (intake / "坏文件.pdf").read_bytes() == b"%PDF-1.4\n this is not a pdf at all"
    with Session(world.engine) as session:
        (event,) = session.exec(
            select(AuditEvent).where(AuditEvent.action == "quarantine.requeue")
        ).all()
        assert event.actor == "rev1"
    _relink_by_search(page, world)
    _sign_in(page, "sales1")
    page.goto("/uploads")
    expect(
        page.locator("tr.upload-row", has_text="坏文件.pdf").locator(".state-badge")
    ).to_have_text("等待处理")


def _relink_by_search(page: Page, world: WebWorld) -> None:
    """The reviewer finds the customer by part of its name, picks its code, relinks."""
    page.goto(f"/documents/{world.documents['a']}")
    field = page.locator("#relink-customer")
    field.fill("乙贸易")
    option = page.locator("#relink-customer-options option")
    expect(option).to_have_count(1)
    code = world.customers["B"]
    assert option.get_attribute("value") == code
    assert "上海乙贸易有限公司" in (option.get_attribute("label") or "")
    field.fill(code)
    expect(page.locator('[data-picked-for="relink-customer"]')).to_contain_text(
        "上海乙贸易有限公司"
    )
    page.locator("#relink-form").get_by_role("button", name="重新关联").click()
    expect(page.locator(".flash")).to_contain_text(f"已重新关联到客户 {code}")
