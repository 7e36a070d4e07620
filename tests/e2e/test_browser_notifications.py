"""The notification settings on ``/notifications`` in a real headless Chromium (Playwright).

An admin changes the expiry lead days and the quiet hours, first with a bad value (the Chinese
error beside its field, nothing saved), then good ones (saved, shown again, audited); a sales
user sees no settings form and cannot post one. Screenshots at 1440 and 390 px
(``$SCREENSHOT_DIR``, default the test's tmp_path); at 390 px nothing scrolls sideways.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from app.notify.config import notify_config
from models import repo
from tests.e2e import test_browser_customers as base
from tests.e2e.test_browser_customer_parts import _login
from tests.e2e.test_web_http import WebWorld

customer_world = base.customer_world
served = base.served
browser_page = base.browser_page


_CSRF_OF_UPLOAD_PAGE = """fetch('/upload').then(r => r.text())
  .then(t => t.match(/name="csrf_token" value="([^"]+)/)[1])"""
_POST_SETTINGS = """token => fetch('/notifications/settings', {method: 'POST',
  headers: {'Content-Type': 'application/x-www-form-urlencoded'},
  body: 'csrf_token=' + encodeURIComponent(token) + '&expiry_days=1'}).then(r => r.status)"""


def _shoot(page: Page, folder: Path, name: str) -> None:
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/notifications")
        page.screenshot(path=str(folder / f"h-chan-{name}-{width}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, (name, width, scroll)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_admin_edits_lead_days_and_quiet_hours_sales_sees_no_form(
    browser_page: Page, customer_world: WebWorld, tmp_path: Path
) -> None:
    page, world = browser_page, customer_world
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)

    _login(page, "admin")
    page.goto("/notifications")
    form = page.locator("#notify-setup")
    expect(form.get_by_label("到期提前天数")).to_have_value("30,7,0")
    expect(form.get_by_text("尚未在网页上保存过")).to_be_visible()
    form.get_by_label("到期提前天数").fill("60,15,0")
    form.get_by_label("免打扰时段（北京时间）").fill("25:00-08:00")
    form.get_by_role("button", name="保存通知设置").click()
    error = page.locator("#e-quiet_hours")
    expect(error).to_contain_text("免打扰时段格式应为 HH:MM-HH:MM")
    expect(page.get_by_label("免打扰时段（北京时间）")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("到期提前天数")).to_have_value("60,15,0")  # kept as typed
    with Session(world.engine) as session:
        assert repo.get_notification_setting(session) is None

    page.get_by_label("免打扰时段（北京时间）").fill("22:00-08:00")
    page.locator("#event-checklist").uncheck()
    page.get_by_role("button", name="保存通知设置").click()
    expect(page.locator(".flash")).to_contain_text("已保存通知设置（3 项有变化")
    form = page.locator("#notify-setup")
    expect(form.get_by_label("到期提前天数")).to_have_value("60,15,0")
    expect(form.get_by_label("免打扰时段（北京时间）")).to_have_value("22:00-08:00")
    expect(page.locator("#event-checklist")).not_to_be_checked()
    expect(form.get_by_text("由 admin 于")).to_be_visible()
    with Session(world.engine) as session:
        saved = notify_config(session, world.settings)
        assert saved.expiry_days == (60, 15, 0) and saved.quiet_hours == "22:00-08:00"
        [event] = repo.list_audit_events(session, entity_type="notification")
        assert event.before["quiet_hours"] is None and event.after["quiet_hours"] == "22:00-08:00"
    page.goto("/audit")
    expect(page.get_by_role("cell", name="修改通知设置", exact=True)).to_be_visible()
    _shoot(page, folder, "notify-settings-admin")

    page.context.clear_cookies()
    _login(page, "sales1")
    page.goto("/notifications")
    expect(page.get_by_text("您的通知邮箱")).to_be_visible()
    expect(page.locator("#notify-setup")).to_have_count(0)
    expect(page.get_by_label("到期提前天数")).to_have_count(0)
    _shoot(page, folder, "notify-settings-sales")
    token = page.evaluate(_CSRF_OF_UPLOAD_PAGE)
    status = page.evaluate(_POST_SETTINGS, token)
    assert status == 403
    with Session(world.engine) as session:
        assert notify_config(session, world.settings).expiry_days == (60, 15, 0)
