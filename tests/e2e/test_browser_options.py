"""The option lists page and cooperation editing in a real headless Chromium (Playwright).

An admin adds an option to 所属行业, retires one and renames one on ``/options``, sees the new
one offered on the new-customer form; then edits a cooperation record's amount on a customer
page and removes it. Screenshots at 1440 and 390 px (``$SCREENSHOT_DIR``, default the test's
tmp_path); at 390 px nothing scrolls sideways.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from archive import cooperations
from models import repo
from tests.e2e import test_browser_customers as base
from tests.e2e.test_browser_customer_parts import _login
from tests.e2e.test_web_http import WebWorld

customer_world = base.customer_world
served = base.served
browser_page = base.browser_page


def _shoot(page: Page, folder: Path, name: str, path: str, opened: str | None = None) -> None:
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(path)
        if opened:
            page.locator(opened).first.click()
        page.screenshot(path=str(folder / f"h-cust-{name}-{width}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, (path, width, scroll)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_admin_edits_option_lists_and_cooperation_records(
    browser_page: Page, customer_world: WebWorld, tmp_path: Path
) -> None:
    page, world = browser_page, customer_world
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    code = world.customers["A"]
    with Session(world.engine) as session:
        admin = repo.get_user(session, username="admin")
        cooperations.add_cooperation(
            session, world.settings, admin, code,  # type: ignore[arg-type]
            {"name": "年度采购合同", "signed_date": "2026-11-20", "amount": "600000"},
        )  # fmt: skip
        session.commit()

    _login(page, "admin")
    page.get_by_role("link", name="选项管理").click()
    industry = page.locator("#list-industry")
    expect(industry.locator("h2")).to_contain_text("所属行业")
    industry.get_by_label("添加选项").fill("新能源")
    industry.get_by_role("button", name="添加").click()
    expect(page.locator(".flash")).to_contain_text("已在“所属行业”中添加选项 新能源")
    industry = page.locator("#list-industry")
    industry.locator('tr[data-option="房地产"]').get_by_role("button", name="停用").click()
    expect(page.locator(".flash")).to_contain_text("已停用“所属行业”的选项 房地产")
    row = page.locator('#list-source_channel tr[data-option="销售陌拜"]')
    row.get_by_label("销售陌拜 的新名称").fill("电话陌拜")
    row.get_by_role("button", name="改名").click()
    expect(page.locator(".flash")).to_contain_text("改名为 电话陌拜")
    _shoot(page, folder, "options", "/options")

    page.goto("/customers/new")
    industry_select = page.get_by_label("所属行业")
    expect(industry_select.locator("option", has_text="新能源")).to_have_count(1)
    expect(industry_select.locator("option", has_text="房地产")).to_have_count(0)

    page.goto(f"/customers/{code}#cooperations")
    section = page.locator("#cooperations")
    section.locator("summary", has_text="编辑 / 删除").first.click()
    form = section.locator("details.record-edit form.section-form").first
    form.get_by_label("合同金额").fill("80000")
    form.get_by_role("button", name="保存合作记录").click()
    expect(page.locator(".flash")).to_contain_text("已保存合作记录 年度采购合同")
    expect(page.locator("#cooperations")).to_contain_text("80000.00")
    _shoot(page, folder, "cooperation-edit", f"/customers/{code}", "#cooperations summary")
    page.goto(f"/customers/{code}")
    page.locator("#cooperations details.record-edit").first.evaluate("d => { d.open = true; }")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="删除合作记录 年度采购合同").click()
    expect(page.locator(".flash")).to_contain_text("已删除合作记录 年度采购合同")
    expect(page.locator("#cooperations")).to_contain_text("还没有合作记录")
