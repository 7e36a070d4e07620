"""The customer pages in a real headless Chromium (Debian's /usr/bin/chromium) via Playwright.

A sales user signs in and lands on their customer list, creates a customer through the form
(an inline Chinese error first, then success), finds it in the list filtered by industry and
status, and cannot open another owner's customer. The database and audit trail are checked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from archive.storage import LocalObjectStore
from config import load_settings
from models import repo
from models.audit import AuditEvent
from models.customer import Customer
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port
from tests.e2e.test_web_http import PASSWORD, WebWorld, make_world
from tests.fixtures.db import make_uscc
from web.app import create_app

NAME = "苏州新程精密机械有限公司"


@pytest.fixture
def customer_world(tmp_path: Path, db_url: str, engine: Engine) -> WebWorld:
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    settings = load_settings(home=tmp_path / "home", database_url=db_url)
    settings.ensure_dirs()
    return make_world(settings=settings, engine=engine, store=store, workdir=tmp_path / "samples")


@pytest.fixture
def served(customer_world: WebWorld) -> Iterator[str]:
    """The app under uvicorn in a thread on a free port; stopped after the test."""
    world = customer_world
    app = create_app(world.settings, engine=world.engine, store=world.store)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser_page(served: str) -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(
            base_url=served, viewport={"width": 1280, "height": 900}, locale="zh-CN"
        )
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _fill_basics(page: Page) -> None:
    page.get_by_label("客户名称").fill(NAME)
    page.get_by_label("客户类型").select_option(label="企业客户")
    page.get_by_label("统一社会信用代码").fill(make_uscc(77))
    page.get_by_label("成立日期").fill("2019-04-01")
    page.get_by_label("法定代表人").fill("顾建华")
    page.get_by_label("地址").fill("江苏省苏州市工业园区星湖街328号")
    page.get_by_label("客户状态").select_option(label="意向客户")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sales_user_creates_a_customer_and_finds_it_in_the_filtered_list(
    browser_page: Page, customer_world: WebWorld
) -> None:
    page, world = browser_page, customer_world
    page.goto("/login")
    page.get_by_label("用户名").fill("sales1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/customers")
    expect(page.get_by_role("heading", name="客户列表")).to_be_visible()
    expect(page.locator("tr.customer-row")).to_have_count(1)

    page.get_by_role("link", name="新建客户").click()
    page.wait_for_url("**/customers/new")
    expect(page.locator('select[name="owner_id"]')).to_have_count(0)
    _fill_basics(page)
    # The individual's ID number box is hidden for an enterprise.
    expect(page.locator('.form-field[data-field="id_number"]')).to_be_hidden()
    page.get_by_role("button", name="创建客户").click()

    # 意向客户 needs the relationship fields: errors inline, input kept.
    error = page.locator('.form-field[data-field="contact_person"] .field-error')
    expect(error).to_have_text("联系人不能为空")
    expect(page.get_by_label("客户名称")).to_have_value(NAME)
    page.get_by_label("联系人", exact=True).fill("顾经理")
    page.get_by_label("联系方式").fill("0512-66881234")
    page.get_by_label("所属行业").select_option("制造业")
    page.get_by_label("客户等级").select_option("B类中小客户")
    page.locator('label.check:has-text("决策人") input').check()
    page.get_by_role("button", name="创建客户").click()
    page.wait_for_url("**/customers/CUS*")
    expect(page.locator(".flash")).to_contain_text("已创建客户")
    expect(page.get_by_role("heading", level=1)).to_contain_text(NAME)
    expect(page.locator('dd[data-field="decision_roles"]')).to_have_text("决策人")

    # The list, filtered by industry and status, shows it and nothing else.
    page.get_by_role("link", name="客户列表").first.click()
    page.get_by_label("所属行业").select_option("制造业")
    page.get_by_label("客户状态").select_option("interested")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/customers?**")
    rows = page.locator("tr.customer-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(NAME)
    expect(rows.first).to_contain_text("意向客户")
    page.get_by_label("搜索客户").fill("新程精密")
    page.get_by_role("button", name="搜索").click()
    expect(page.locator("tr.customer-row")).to_have_count(1)

    # Another owner's customer does not exist for this user.
    response = page.goto(f"/customers/{world.customers['B']}")
    assert response is not None and response.status == 404
    expect(page.locator("body")).to_contain_text("不存在")

    # From 360 px wide: no page scrolls sideways.
    page.set_viewport_size({"width": 360, "height": 740})
    code = world.customers["A"]
    for path in ("/customers", f"/customers/{code}", f"/customers/{code}/edit", "/customers/new"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (path, width)

    with Session(world.engine) as session:
        created = session.exec(select(Customer).where(Customer.name == NAME)).one()
        sales1 = repo.get_user(session, username="sales1")
        assert sales1 is not None and created.owner_id == sales1.id
        assert created.phone == "0512-66881234" and created.decision_roles == ["决策人"]
        actions = session.exec(
            select(AuditEvent.actor, AuditEvent.action)
            .where(AuditEvent.entity_type == "customer", AuditEvent.entity_id == created.code)
            .order_by(col(AuditEvent.id))
        ).all()
        assert [tuple(a) for a in actions] == [("sales1", "customer.create")]
