"""End to end in a real headless Chromium (Debian's /usr/bin/chromium) through Playwright.

The app runs under uvicorn in a background thread on 127.0.0.1 and a free port. A reviewer
signs in, opens the queue, moves with j/k, corrects a field and the submitted date and approves
with the keyboard, rejects the next document, and the test then checks the database, the object
keys (the approved document's objects moved to keys with the new date) and the audit trail.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from archive.storage import LocalObjectStore, ObjectStore
from config import load_settings
from models.audit import AuditEvent
from models.document import Document
from tests.e2e.test_web_http import PASSWORD, WebWorld, make_world
from web.app import create_app
from web.render import page_cache_key

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def browser_world(tmp_path: Path, db_url: str, engine: Engine) -> WebWorld:
    store: ObjectStore = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    settings = load_settings(home=tmp_path / "home", database_url=db_url)
    settings.ensure_dirs()
    return make_world(settings=settings, engine=engine, store=store, workdir=tmp_path / "samples")


@pytest.fixture
def base_url(browser_world: WebWorld) -> Iterator[str]:
    """The app served by uvicorn in a thread; stopped after the test."""
    app = create_app(browser_world.settings, engine=browser_world.engine,
                     store=browser_world.store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def page(base_url: str) -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1000},
                                      locale="zh-CN")
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _doc(world: WebWorld, label: str) -> Document:
    with Session(world.engine) as session:
        doc = session.get(Document, world.documents[label])
        assert doc is not None
        return doc


def _actions(world: WebWorld, label: str) -> list[tuple[str, str, str | None]]:
    with Session(world.engine) as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "document",
                   AuditEvent.entity_id == str(world.documents[label]))
            .order_by(col(AuditEvent.id))
        ).all()
        return [(e.actor, e.action, e.detail) for e in events]


def _sign_in(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill("rev1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="待审核队列")).to_be_visible()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_reviewer_clears_the_queue_with_the_keyboard(
    page: Page, browser_world: WebWorld, tmp_path: Path
) -> None:
    world = browser_world
    a, b, clean = (world.documents[k] for k in ("a", "b", "clean"))
    old_a = _doc(world, "a")
    _sign_in(page)

    # The queue: anomalies first; j/k move the selection, Enter opens.
    rows = page.locator("tr.queue-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_class("queue-row anomaly selected")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(2)).to_contain_text("二次核验")
    expect(rows.nth(2)).to_have_class("queue-row selected")
    page.keyboard.press("k")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/documents/{a}")

    # The document page: rendered page image beside the fields, doubtful field highlighted.
    image = page.locator("#viewer img.scan").first
    expect(image).to_be_visible()
    page.wait_for_function("document.querySelector('#viewer img.scan').naturalWidth > 0")
    expect(page.locator('.field.doubtful[data-field="uscc"]')).to_contain_text("校验位经 OCR 纠错")
    page.screenshot(path=str(tmp_path / "document-page.png"), full_page=False)

    # e focuses the first doubtful field; correct another field and the date, then a approves.
    page.keyboard.press("e")
    assert page.evaluate("document.activeElement.name") == "field__uscc"
    page.keyboard.press("Escape")
    page.locator('input[name="field__legal_representative"]').fill("赵六")
    page.locator('input[name="submitted_date"]').fill("2026-10-15")
    page.keyboard.press("Escape")
    page.keyboard.press("a")

    # Next in queue: document b. r focuses the reason; Ctrl+Enter rejects.
    page.wait_for_url(f"**/documents/{b}")
    expect(page.locator(".flash")).to_contain_text(f"资料 #{a} 已审核通过")
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reject-reason"
    page.keyboard.type("证件照片模糊，无法核验")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/documents/{clean}")
    expect(page.locator(".flash")).to_contain_text(f"资料 #{b} 已驳回")

    # The database.
    new_a, new_b = _doc(world, "a"), _doc(world, "b")
    assert new_a.status == "archived" and new_a.reviewed_by == "rev1"
    assert new_a.fields["legal_representative"]["value"] == "赵六"
    assert new_a.submitted_date.isoformat() == "2026-10-15"
    assert new_b.status == "rejected"
    assert new_b.fields["_rejection"]["reason"] == "证件照片模糊，无法核验"
    assert _doc(world, "clean").claimed_by == "rev1"

    # The object keys: moved to the new date's keys with identical bytes, old keys gone.
    store = world.store
    assert new_a.pdf_key == old_a.pdf_key.replace("2026-11-01", "2026-10-15")  # type: ignore[union-attr]
    assert "/2026/Q4/" in (new_a.pdf_key or "")
    moved = ((new_a.pdf_key, new_a.pdf_sha256), (new_a.original_key, new_a.original_sha256))
    for key, sha in moved:
        assert key is not None and store.sha256_of(key) == sha
    assert not store.exists(old_a.pdf_key or "") and not store.exists(old_a.original_key or "")
    assert hashlib.sha256(world.pdf_bytes["a"]).hexdigest() == new_a.pdf_sha256
    assert store.exists(page_cache_key(pdf_sha256=new_a.pdf_sha256 or "", page=1))
    assert _doc(world, "b").pdf_key == world_key(world, "b")

    # The audit trail.
    trail_a = [(actor, action) for actor, action, _ in _actions(world, "a")]
    assert ("rev1", "document.claim") in trail_a
    assert ("rev1", "document.correct") in trail_a
    assert trail_a[-1] == ("rev1", "document.approve")
    reject_events = [e for e in _actions(world, "b") if e[1] == "document.reject"]
    assert reject_events == [("rev1", "document.reject", "证件照片模糊，无法核验")]


def world_key(world: WebWorld, label: str) -> str | None:
    """The PDF key a document was created with (rejection leaves objects in place)."""
    with Session(world.engine) as session:
        first = session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "document",
                   AuditEvent.entity_id == str(world.documents[label]),
                   AuditEvent.action == "document.create")
        ).first()
        assert first is not None and first.after is not None
        return first.after.get("pdf_key")
