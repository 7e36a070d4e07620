"""The customer import flow in a real headless Chromium (Debian's /usr/bin/chromium).

A sales user opens the import page from the customer list, uploads a CSV with two planted
errors, sees them listed with row number, column and rule (nothing written yet), imports only
the valid rows, downloads the rejected rows and finds the new customers in their list.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from models.customer import Customer
from tests.e2e.test_browser_customers import browser_page, customer_world, served  # noqa: F401
from tests.e2e.test_web_http import PASSWORD, WebWorld
from tests.fixtures.db import make_uscc

HEADER = "客户名称,客户类型,统一社会信用代码,法定代表人,成立时间,地址,联系方式"


def _file(tmp_path: Path) -> Path:
    rows = [
        f"浏览器{n}号有限公司,企业客户,{make_uscc(200 + n)},张三,2015-03-12,北京市海淀区1号,"
        + ("12345" if n == 2 else "13812340000")
        for n in range(1, 5)
    ]
    rows[3] = rows[3].replace("企业客户", "外星客户")  # row 5: not an option
    path = tmp_path / "浏览器导入.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _imported(world: WebWorld) -> list[Customer]:
    with Session(world.engine) as session:
        query = select(Customer).where(col(Customer.name).like("浏览器%"))
        return list(session.exec(query).all())


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sales_user_previews_then_imports_only_the_valid_rows(
    browser_page: Page,  # noqa: F811
    customer_world: WebWorld,  # noqa: F811
    tmp_path: Path,
) -> None:
    page, world = browser_page, customer_world
    page.goto("/login")
    page.get_by_label("用户名").fill("sales1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/customers")
    expect(page.get_by_role("button", name="导出")).to_be_visible()
    expect(page.get_by_label("含完整号码")).to_have_count(0)
    page.get_by_role("link", name="导入客户").click()
    page.wait_for_url("**/customers/import")

    page.get_by_label("XLSX 或 CSV 文件").set_input_files(str(_file(tmp_path)))
    page.get_by_role("button", name="上传并预检").click()
    rows = page.locator("tr.rejected-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("第 3 行")
    expect(rows.nth(0)).to_contain_text("联系方式")
    expect(rows.nth(0)).to_contain_text("电话格式错误")
    expect(rows.nth(1)).to_contain_text("第 5 行")
    expect(rows.nth(1)).to_contain_text("客户类型")
    expect(page.locator(".import-preview")).to_contain_text("尚未写入任何数据")
    assert _imported(world) == []

    page.get_by_role("button", name="仅导入有效行（2 行）").click()
    expect(page.locator(".import-result")).to_contain_text("导入完成")
    expect(page.locator('[data-count="created"]')).to_have_text("2")
    with page.expect_download() as info:
        page.get_by_role("link", name="下载被拒绝的行").click()
    saved = tmp_path / "rejects.csv"
    info.value.save_as(saved)
    text = saved.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].endswith(",错误") and "12345" in text and "外星客户" in text
    assert len(_imported(world)) == 2

    page.get_by_role("link", name="查看客户列表 →").click()
    page.wait_for_url("**/customers")
    expect(page.locator("tr.customer-row", has_text="浏览器1号有限公司")).to_have_count(1)
