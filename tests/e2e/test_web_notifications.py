# ruff: noqa: F811  (pytest fixtures imported from other test modules)
"""The 通知 page and users' e-mail addresses over real HTTP (uvicorn, httpx) and in a real
headless Chromium: an admin sets a sales user's address (a bad one is refused with a Chinese
message), notifications go out through the one delivery path (aiosmtpd, a signed webhook), the
admin sees every notification, a sales user only those sent to their address, a user without
an address none. At 390 px nothing scrolls sideways. Screenshots go to ``$SCREENSHOT_DIR``
(default: the test's tmp_path)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from app.context import AppContext
from app.notify import notify_all
from config import load_settings
from models import repo
from models.db import utcnow
from tests.e2e.test_browser import base_url, browser_world, page  # noqa: F401
from tests.e2e.test_web_hardening import signed_in
from tests.e2e.test_web_http import PASSWORD, WebWorld, csrf_from
from tests.integration.test_notifications import SECRET, Hook, Inbox, smtp, webhook  # noqa: F401

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSSIER_TEST_WEBHOOK_SECRET", SECRET)


def _set_email(client: httpx.Client, username: str, email: str) -> str:
    csrf = csrf_from(client.get("/users").text)
    done = client.post(f"/users/{username}/email", data={"email": email, "csrf_token": csrf})
    assert done.status_code == 303, done.text
    return client.get("/users").text


def _notify(world: WebWorld, smtp_port: int, url: str) -> int:
    """Send what is due 15 days from now (the customers' checklists are then overdue)."""
    settings = load_settings(
        home=world.settings.home, database_url=world.settings.database_url,
        smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_tls="off", webhook_url=url,
        webhook_secret_env="DOSSIER_TEST_WEBHOOK_SECRET",
    )  # fmt: skip
    report = notify_all(AppContext(settings=settings), now=utcnow() + timedelta(days=15))
    assert report.failed == [] and report.sent, report.as_dict()
    return len(report.sent)


def _rows(html: str) -> int:
    return html.count('<td data-label="发送时间">')


def test_admin_sets_addresses_and_each_user_sees_their_notifications(
    browser_world: WebWorld,
    base_url: str,
    smtp: tuple[int, Inbox],
    webhook: tuple[str, Hook],
) -> None:
    world = browser_world
    with signed_in(base_url, "admin") as admin:
        refused = _set_email(admin, "sales1", "not-an-address")
        assert "电子邮箱格式错误" in refused
        page = _set_email(admin, "sales1", "Sales1@Example.com")
        assert 'value="Sales1@example.com"' in page and "已修改 sales1 的邮箱" in page
    sent = _notify(world, smtp[0], webhook[0])
    mails = smtp[1].messages
    assert [m["To"] for m in mails] == ["Sales1@example.com"]
    assert "【资料清单未齐】" in mails[0]["Subject"]

    with signed_in(base_url, "admin") as admin:
        html = admin.get("/notifications").text
        assert f"共 {sent} 条" in html and _rows(html) == sent
        assert "通知设置" in html and mails[0]["Subject"] in html
        assert "邮件：未启用" in html  # the web server's own settings name no SMTP server
    with signed_in(base_url, "sales1") as sales1:
        html = sales1.get("/notifications").text
        assert "发送给我的通知，共 1 条" in html and _rows(html) == 1
        assert "资料清单未齐" in html and "通知设置" not in html and webhook[0] not in html
    with signed_in(base_url, "sales2") as sales2:
        html = sales2.get("/notifications").text
        assert "共 0 条" in html and "未设置" in html and _rows(html) == 0
    with Session(world.engine) as session:
        total = repo.list_notifications(session)[1]
    assert total == sent


def _login(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def _shoot(page: Page, folder: Path, name: str, path: str) -> None:
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(path)
        page.screenshot(path=str(folder / f"h-notify-{name}-{width}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, (path, width, scroll)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_notifications_and_users_pages_in_chromium(
    page: Page,
    browser_world: WebWorld,
    smtp: tuple[int, Inbox],
    webhook: tuple[str, Hook],
    tmp_path: Path,
) -> None:
    world = browser_world
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    _login(page, "admin")
    page.goto("/users")
    row = page.locator("tr", has_text="sales1")
    row.get_by_label("sales1 的邮箱").fill("sales1@example.com")
    row.get_by_role("button", name="保存邮箱").click()
    expect(page.locator(".flash")).to_contain_text("已修改 sales1 的邮箱")
    _shoot(page, folder, "users", "/users")
    _notify(world, smtp[0], webhook[0])
    page.set_viewport_size({"width": 1440, "height": 900})
    page.locator("nav").get_by_role("link", name="通知", exact=True).click()
    expect(page.get_by_role("heading", name="通知设置")).to_be_visible()
    expect(page.locator("#notifications-table tbody tr").first).to_contain_text("资料清单未齐")
    _shoot(page, folder, "admin", "/notifications")
    page.context.clear_cookies()
    _login(page, "sales1")
    page.goto("/notifications")
    expect(page.locator("#notifications-table tbody tr")).to_have_count(1)
    expect(page.get_by_text("您的通知邮箱")).to_contain_text("sales1@example.com")
    _shoot(page, folder, "sales", "/notifications")
