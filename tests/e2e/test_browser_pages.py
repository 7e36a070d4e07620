# ruff: noqa: F811  (pytest fixtures imported from test_browser)
"""The review pages in a real headless Chromium: the scan viewer, the shortcut help, Chinese
labels on every document type, and the layout at 1440 and 390 px wide.

Uses the app, world and browser fixtures of tests/e2e/test_browser.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from tests.e2e.test_browser import (  # noqa: F401
    _sign_in,
    base_url,
    browser_world,
    page,
)
from tests.e2e.test_web_http import WebWorld
from tests.e2e.typed_documents import SAMPLE_KINDS, add_typed_document

ENGLISH = re.compile(r"[a-z_]{4,}")
SCALE = "Number(document.getElementById('viewer').dataset.scale)"
TRANSFORM = "document.querySelector('figure.page.current img.scan').style.transform"


def _typed(world: WebWorld, document_type: str, seed: int, pages: int = 1) -> int:
    with Session(world.engine, expire_on_commit=False) as session:
        return add_typed_document(
            world,
            session,
            document_type=document_type,
            customer_code=world.customers["A"],
            seed=seed,
            workdir=Path(world.settings.home) / "typed",
            pages=pages,
        )


def _open(page: Page, document_id: int) -> None:
    page.goto(f"/documents/{document_id}")
    page.wait_for_function(
        "document.querySelector('figure.page.current img.scan').naturalWidth > 0"
        " && document.getElementById('viewer').dataset.scale"
    )


def _no_sideways_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_viewer_zooms_rotates_fits_and_turns_pages(page: Page, browser_world: WebWorld) -> None:
    doc_id = _typed(browser_world, "business_license", 11, pages=2)
    _sign_in(page)
    _open(page, doc_id)
    fit_width = page.evaluate(SCALE)
    start = page.evaluate(TRANSFORM)
    assert "scale(" in start and "rotate(0deg)" in start

    # + and the button zoom in; the wheel over the scan zooms; - zooms out.
    page.keyboard.press("+")
    assert page.evaluate(SCALE) == pytest.approx(fit_width * 1.2, rel=0.01)
    assert page.evaluate(TRANSFORM) != start
    page.get_by_role("button", name="放大").click()
    zoomed = page.evaluate(SCALE)
    assert zoomed == pytest.approx(fit_width * 1.44, rel=0.01)
    expect(page.locator("#zoom-level")).to_have_text(f"{round(zoomed * 100)}%")
    page.locator("#stage").hover()
    page.mouse.wheel(0, -100)
    page.wait_for_function(f"{SCALE} > {zoomed * 1.1}")
    page.mouse.wheel(0, 100)
    page.keyboard.press("-")
    assert page.evaluate(SCALE) == pytest.approx(fit_width * 1.2, rel=0.01)

    # Rotation turns the image and swaps the canvas; fit page keeps all of it in view.
    page.get_by_role("button", name="旋转").click()
    assert "rotate(90deg)" in page.evaluate(TRANSFORM)
    page.keyboard.press("f")
    inside = page.evaluate(
        "(() => { const s = document.getElementById('stage'), c = s.querySelector("
        "'figure.page.current .canvas'); return c.offsetWidth <= s.clientWidth + 1 &&"
        " c.offsetHeight <= s.clientHeight + 1; })()"
    )
    assert inside
    page.keyboard.press("o")
    page.keyboard.press("o")
    page.keyboard.press("o")
    page.keyboard.press("w")
    assert "rotate(0deg)" in page.evaluate(TRANSFORM)
    assert page.evaluate(SCALE) == pytest.approx(fit_width, rel=0.02)

    # Thumbnails and [ ] change the page.
    thumbs = page.locator(".thumb")
    expect(thumbs).to_have_count(2)
    thumbs.nth(1).click()
    expect(page.locator('figure.page[data-page="2"]')).to_be_visible()
    expect(page.locator('figure.page[data-page="1"]')).to_be_hidden()
    expect(page.locator("#page-current")).to_have_text("2")
    page.keyboard.press("[")
    expect(page.locator('figure.page[data-page="1"]')).to_be_visible()

    # The OCR text tab; the shortcut help on ?.
    page.keyboard.press("t")
    expect(page.locator("#text-panel .ocr-text")).to_be_visible()
    expect(page.locator("#scan-panel")).to_be_hidden()
    page.get_by_role("tab", name="扫描件").click()
    expect(page.locator("#scan-panel")).to_be_visible()
    page.keyboard.press("?")
    help_box = page.locator("#help-overlay")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("顺时针旋转")
    page.keyboard.press("a")  # ignored while the help is open
    assert page.url.endswith(f"/documents/{doc_id}")
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_scan_stays_in_view_while_the_fields_scroll(page: Page, browser_world: WebWorld) -> None:
    doc_id = _typed(browser_world, "business_license", 12)
    page.set_viewport_size({"width": 1440, "height": 700})
    _sign_in(page)
    _open(page, doc_id)
    viewer, side = page.locator("#viewer"), page.locator("section.side")
    assert viewer.bounding_box()["x"] + viewer.bounding_box()["width"] <= side.bounding_box()["x"]  # type: ignore[index]
    page.evaluate("window.scrollTo(0, 600)")
    page.wait_for_function("window.scrollY > 500")
    top = viewer.bounding_box()["y"]  # type: ignore[index]
    assert 0 <= top <= 20
    assert _no_sideways_scroll(page)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_phone_layout_has_no_sideways_scroll(page: Page, browser_world: WebWorld) -> None:
    ids = [_typed(browser_world, t, 20 + n) for n, t in enumerate(SAMPLE_KINDS)]
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/login")
    assert _no_sideways_scroll(page)
    _sign_in(page)
    assert _no_sideways_scroll(page), "queue"

    # The menu is collapsed behind one button.
    nav = page.locator("header.top nav")
    expect(nav).to_be_hidden()
    page.get_by_role("button", name="菜单").click()
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="审计日志")).to_be_visible()
    assert _no_sideways_scroll(page)
    page.keyboard.press("?")
    expect(page.locator("#help-overlay")).to_contain_text("打开选中的资料")
    page.get_by_role("button", name="关闭").click()
    expect(page.locator("#help-overlay")).to_be_hidden()

    for doc_id in ids:
        _open(page, doc_id)
        assert _no_sideways_scroll(page), f"document {doc_id}"
        viewer = page.locator("#viewer").bounding_box()
        fields = page.locator("#decision-form").bounding_box()
        assert viewer and fields and viewer["y"] + viewer["height"] <= fields["y"]  # scan above
        assert viewer["width"] >= 340
    page.goto("/audit")
    expect(page.get_by_role("heading", name="审计日志")).to_be_visible()
    assert page.locator("tr.audit-row").count() > 5
    assert _no_sideways_scroll(page), "audit"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_visible_label_on_a_document_page_is_chinese(
    page: Page, browser_world: WebWorld
) -> None:
    ids = {t: _typed(browser_world, t, 30 + n) for n, t in enumerate(SAMPLE_KINDS)}
    _sign_in(page)
    for document_type, doc_id in ids.items():
        _open(page, doc_id)
        text = page.evaluate(
            "(() => { document.querySelectorAll('main code').forEach(c => c.remove());"
            " return document.querySelector('main').innerText; })()"
        )
        assert "识别字段" in text
        found = ENGLISH.findall(text)
        assert found == [], f"{document_type}: {found}"
        labels = page.locator("#decision-form .field .label").all_inner_texts()
        assert len(labels) >= 5, document_type
