"""The customer page's sections and the tag page in a real headless Chromium (Playwright).

A sales user creates a customer, adds a contact and a follow-up, tags it (制造业 + 高价值),
finds it in the list filtered by both tags, and cannot open another owner's customer; an admin
merges two duplicates from the customer page and sees the tag page. No page scrolls sideways
at 390 px. Screenshots go to ``$SCREENSHOT_DIR`` (default: the test's tmp_path).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from archive import tags
from models import repo
from models.customer import Customer
from tests.e2e import test_browser_customers as base
from tests.e2e.test_web_customers import _enterprise
from tests.e2e.test_web_http import PASSWORD, WebWorld

customer_world = base.customer_world  # the browser fixtures of the customer pages
served = base.served
browser_page = base.browser_page


def _login(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def _shoot(page: Page, folder: Path, name: str, path: str) -> None:
    """Screenshots at 1440 and 390 px wide; at 390 nothing scrolls sideways."""
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(path)
        page.screenshot(path=str(folder / f"h-cweb2-{name}-{width}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, (path, width, scroll)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sales_user_works_a_customer_and_an_admin_merges_duplicates(
    browser_page: Page, customer_world: WebWorld, tmp_path: Path
) -> None:
    page, world = browser_page, customer_world
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    with Session(world.engine) as session:
        admin = repo.get_user(session, username="admin")
        for name in ("制造业", "高价值", "华东"):
            tags.add_tag(session, admin, name)  # type: ignore[arg-type]
        session.commit()

    _login(page, "sales1")
    page.get_by_role("link", name="新建客户").click()
    base._fill_basics(page)
    page.get_by_label("客户状态").select_option(label="潜在客户")
    page.get_by_role("button", name="创建客户").click()
    page.wait_for_url("**/customers/CUS*")
    code = page.url.rsplit("/", 1)[1]

    # A contact: an inline error first, then saved.
    page.locator("summary", has_text="添加联系人").click()
    new_contact = page.locator("#contact-new")
    new_contact.get_by_label("联系人姓名").fill("顾明")
    new_contact.get_by_label("手机").fill("1380013")
    new_contact.get_by_role("button", name="添加联系人").click()
    expect(page.locator("#contact-new .field-error")).to_contain_text("手机：须为11位手机号")
    page.locator("#contact-new").get_by_label("手机").fill("13800138000")
    page.locator("#contact-new").get_by_role("button", name="添加联系人").click()
    expect(page.locator(".flash")).to_contain_text("已添加联系人 顾明")
    expect(page.locator("#contacts .record")).to_have_count(1)

    # A follow-up.
    page.locator("summary", has_text="添加跟进记录").click()
    follow = page.locator('form[action$="/follow-ups"]')
    follow.get_by_label("跟进方式").select_option("上门拜访")
    follow.get_by_label("跟进时间").fill("2026-12-01T09:30")
    follow.get_by_label("跟进内容").fill("拜访工厂，了解采购计划")
    follow.get_by_role("button", name="添加跟进记录").click()
    expect(page.locator("#follow-ups .record")).to_contain_text("拜访工厂，了解采购计划")
    expect(page.locator("#follow-ups .record")).to_contain_text("2026-12-01 09:30")

    # Two tags.
    for name in ("制造业", "高价值"):
        page.locator("#tag-add").select_option(name)
        page.locator("form.tag-add").get_by_role("button", name="添加").click()
        expect(page.locator(".flash")).to_contain_text(f"已添加标签：{name}")
    expect(page.locator("#tags .tag")).to_have_count(2)
    _shoot(page, folder, "customer", f"/customers/{code}")

    # The list filtered by both tags shows it and nothing else.
    page.goto("/customers")
    page.get_by_label("制造业", exact=True).check()
    page.get_by_label("高价值", exact=True).check()
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/customers?**")
    rows = page.locator("tr.customer-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(base.NAME)
    expect(rows.first.locator(".tag")).to_have_count(2)
    _shoot(page, folder, "list", page.url)

    # Another owner's customer does not exist for this user.
    response = page.goto(f"/customers/{world.customers['B']}")
    assert response is not None and response.status == 404

    # An admin merges a duplicate into customer A.
    page.context.clear_cookies()
    with Session(world.engine, expire_on_commit=False) as session:
        data = {**_enterprise(31), "name": "北京甲科技（有限公司）"}
        duplicate = repo.create_customer(session, data=data, actor="system").code
        session.commit()
    _login(page, "admin")
    _shoot(page, folder, "merge", f"/customers/{world.customers['A']}")
    merge = page.locator("#merge")
    expect(merge).to_contain_text("疑似重复客户")
    merge.get_by_label(f"北京甲科技（有限公司） {duplicate}").check()
    questions: list[str] = []

    def accept(dialog) -> None:  # type: ignore[no-untyped-def]
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    merge.get_by_role("button", name="合并到本客户").click()
    expect(page.locator(".flash")).to_contain_text(f"已将 {duplicate} 合并到")
    expect(page.locator("#merge")).to_have_count(0)
    assert questions and "此操作不能撤销" in questions[0]
    with Session(world.engine) as session:
        assert session.exec(select(Customer).where(Customer.code == duplicate)).first() is None

    _shoot(page, folder, "tags", "/tags")
    expect(page.locator('tr[data-tag="制造业"]')).to_contain_text("1")
