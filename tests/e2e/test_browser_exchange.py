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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_large_import_shows_a_progress_bar_then_the_report(
    browser_page: Page,  # noqa: F811
    customer_world: WebWorld,  # noqa: F811
    tmp_path: Path,
) -> None:
    """20,000 rows: the progress bar fills while the dry run and the import run in the
    background (screenshots at 1440 and 390 px, nothing scrolls sideways), then the report."""
    import os

    from tests.e2e.test_web_import_progress import big_file

    page, world = browser_page, customer_world
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    path, planted = big_file(tmp_path, rows=20_000)
    page.goto("/login")
    page.get_by_label("用户名").fill("sales1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/customers")
    page.goto("/customers/import")

    def shoot(name: str) -> None:
        for width in (1440, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(folder / f"h-import-{name}-{width}.png"), full_page=True)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, (name, width, scroll)

    page.get_by_label("XLSX 或 CSV 文件").set_input_files(str(path))
    page.get_by_role("button", name="上传并预检").click()
    page.wait_for_url("**/customers/import/jobs/**")
    bar = page.locator("progress#import-bar")
    expect(bar).to_be_visible()
    expect(page.locator(".import-progress")).to_contain_text("正在预检")
    seen = page.wait_for_function(PROGRESS_SEEN, timeout=60_000).json_value()
    if "max" in seen:  # caught while running (not finished first): the file's rows, done so far
        assert seen["max"] == 20_000 and 0 < seen["value"] <= 20_000, seen
        shoot("progress")
    rows = page.locator("tr.rejected-row")
    expect(rows).to_have_count(len(planted), timeout=120_000)
    expect(rows.nth(0)).to_contain_text("第 11 行")
    expect(page.locator(".import-preview")).to_contain_text("尚未写入任何数据")
    shoot("preview")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="仅导入有效行（19998 行）").click()
    expect(page.locator(".import-result")).to_contain_text("导入完成", timeout=180_000)
    expect(page.locator('[data-count="created"]')).to_have_text("19998")
    shoot("done")
    assert len(_imported_big(world)) == 19_998


#: The progress bar's numbers once it has moved, or {"gone": true} when the result came first.
PROGRESS_SEEN = """() => {
  const bar = document.querySelector("#import-bar");
  if (!bar) return {gone: true};
  return bar.value > 0 && bar.max > 1 ? {max: bar.max, value: bar.value} : false;
}"""


def _imported_big(world: WebWorld) -> list[Customer]:
    with Session(world.engine) as session:
        return list(session.exec(select(Customer).where(col(Customer.name).like("导入%"))).all())
