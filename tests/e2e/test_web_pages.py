# ruff: noqa: F811  (pytest fixtures imported from test_web_http)
"""HTTP tests of what the review pages show: field labels from the understanding rules, money and
dates formatted once, and the audit page (Chinese actions, before -> after, China time, filters,
paging). SQLite and PostgreSQL, through the real app (fixtures of test_web_http.py).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from models import repo
from models.audit import AuditEvent
from models.document import Document
from models.validation import mask_id_number
from tests.e2e.test_web_http import (  # noqa: F401
    WebWorld,
    app,
    client_of,
    csrf_from,
    web_store,
    world,
)
from tests.e2e.typed_documents import add_typed_document
from web.audit_view import AUDIT_PAGE_SIZE
from web.formatting import money, unmoney, ymd

ROW_RE = re.compile(r'<tr class="audit-row" data-action="([^"]+)"')


def _rows(text: str) -> list[str]:
    return ROW_RE.findall(text)


def _labels(text: str) -> dict[str, str]:
    """``data-field`` -> the label text shown on the document page."""
    found = re.findall(r'data-field="([^"]+)">\s*<span class="label">([^<]*)', text)
    return {name: html.unescape(label).strip() for name, label in found}


def _typed(world: WebWorld, document_type: str, seed: int) -> int:
    with Session(world.engine, expire_on_commit=False) as session:
        return add_typed_document(
            world,
            session,
            document_type=document_type,
            customer_code=world.customers["A"],
            seed=seed,
            workdir=Path(world.settings.home) / "typed",
        )


def test_formatting_filters() -> None:
    assert money("500000") == "500,000.00 元"
    assert money(1957000) == "1,957,000.00 元"
    assert money("12.5", "美元") == "12.50 美元"
    assert money("人民币五十万元") == "人民币五十万元"  # unreadable: shown as it is
    assert unmoney("600,000.00 元") == "600000.00" and unmoney("约 5 万") == "约 5 万"
    assert ymd("2026-11-01") == "2026-11-01" and ymd("长期") == "长期"
    assert ymd(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)) == "2027-01-01"  # China time


def test_field_labels_come_from_the_understanding_rules(client_of, world: WebWorld) -> None:
    id_card, license_ = _typed(world, "id_card", 5), _typed(world, "business_license", 6)
    reviewer = client_of("rev1")
    card = _labels(reviewer.get(f"/documents/{id_card}").text)
    assert card["name"] == "姓名" and card["birth_date"].startswith("出生")
    assert card["valid_to"].startswith("有效期限")
    page = reviewer.get(f"/documents/{license_}").text
    assert _labels(page)["name"] == "名称"
    assert _labels(page)["registered_capital"] == "注册资本"
    assert 'value="500,000.00 元"' in page
    assert re.search(r'name="submitted_date" value="\d{4}-\d{2}-\d{2}"', page)
    assert 'type="date"' not in page  # a date input shows the browser's locale format
    for document_type in ("bank_permit", "customer_form", "contract"):
        doc_id = _typed(world, document_type, 7)
        labels = _labels(reviewer.get(f"/documents/{doc_id}").text)
        assert labels, document_type
        english = {k: v for k, v in labels.items() if re.search(r"[a-z_]{4,}", v)}
        assert english == {}, document_type


def test_a_shown_amount_sent_back_unchanged_is_not_a_correction(client_of, world: WebWorld) -> None:
    doc_id = _typed(world, "business_license", 8)
    reviewer = client_of("rev1")
    page = reviewer.get(f"/documents/{doc_id}").text
    form = {
        "csrf_token": csrf_from(page),
        "field__registered_capital": "500,000.00 元",
        "document_type": "business_license",
    }
    reviewer.post(f"/documents/{doc_id}/correct", data=form)
    with Session(world.engine) as session:
        doc = session.get(Document, doc_id)
        assert doc is not None and doc.fields["registered_capital"]["value"] == "500000"
    reviewer.post(
        f"/documents/{doc_id}/correct", data={**form, "field__registered_capital": "600,000.00 元"}
    )
    with Session(world.engine) as session:
        doc = session.get(Document, doc_id)
        assert doc is not None and doc.fields["registered_capital"]["value"] == "600000.00"
    audit = reviewer.get("/audit", params={"document": str(doc_id), "action": "document.correct"})
    assert _rows(audit.text) == ["document.correct"]
    assert "修改识别字段" in audit.text
    # The trail keeps each changed field's value before and after (models/repo snapshots).
    assert re.search(
        r'注册资本</span>：\s*<span class="before">500,000\.00 元</span>\s*'
        r'<span class="arrow" aria-label="改为">-&gt;</span>\s*'
        r'<span class="after">600,000\.00 元</span>',
        audit.text,
    )
    assert "已修改" not in audit.text
    with Session(world.engine) as session:
        event = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "document.correct", AuditEvent.entity_id == str(doc_id))
            .order_by(col(AuditEvent.id).desc())
        ).first()
        assert event is not None
        assert event.before["fields"] == {"registered_capital": "500000"}
        assert event.after["fields"] == {"registered_capital": "600000.00"}


def test_a_corrected_id_number_shows_masked_before_and_after(client_of, world: WebWorld) -> None:
    doc_id = _typed(world, "id_card", 9)
    reviewer = client_of("rev1")
    with Session(world.engine) as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        old_number = doc.fields["id_number"]["value"]
    new_number = "11010519491231002X"
    page = reviewer.get(f"/documents/{doc_id}").text
    form = {"csrf_token": csrf_from(page), "field__id_number": new_number,
            "document_type": "id_card"}
    reviewer.post(f"/documents/{doc_id}/correct", data=form)
    audit = reviewer.get("/audit", params={"document": str(doc_id), "action": "document.correct"})
    before, after = mask_id_number(old_number), mask_id_number(new_number)
    assert re.search(
        rf'公民身份号码</span>：\s*<span class="before">{re.escape(before)}</span>\s*'
        rf'<span class="arrow" aria-label="改为">-&gt;</span>\s*'
        rf'<span class="after">{re.escape(after)}</span>',
        audit.text,
    )
    assert old_number not in audit.text and new_number not in audit.text
    with Session(world.engine) as session:
        stored = [
            {**(e.before or {}), **(e.after or {})}
            for e in session.exec(select(AuditEvent).where(AuditEvent.entity_id == str(doc_id)))
        ]
    assert old_number not in str(stored) and new_number not in str(stored)


def test_audit_filters_by_user_document_customer_and_action(client_of, world: WebWorld) -> None:
    a, b = world.documents["a"], world.documents["b"]
    client_of("rev1").get(f"/documents/{a}")  # claims a
    client_of("rev2").get(f"/documents/{b}")  # claims b
    reviewer = client_of("rev1")

    by_user = reviewer.get("/audit", params={"user": "rev2"}).text
    assert set(_rows(by_user)) == {"user.login", "document.claim"}
    assert f'href="/documents/{b}"' in by_user and f'href="/documents/{a}"' not in by_user

    by_document = reviewer.get("/audit", params={"document": str(a)}).text
    assert _rows(by_document) == ["document.claim", "document.create"]

    by_action = reviewer.get("/audit", params={"action": "document.claim"}).text
    assert _rows(by_action) == ["document.claim", "document.claim"]

    customer_a = world.customers["A"]
    for customer in (customer_a, "北京甲科技有限公司"):
        by_customer = reviewer.get("/audit", params={"customer": customer}).text
        assert sorted(_rows(by_customer)) == sorted(
            ["customer.create", "document.create", "document.create", "document.claim"]
        )
        assert f'href="/documents/{b}"' not in by_customer
    both = reviewer.get("/audit", params={"customer": customer_a, "user": "rev1"}).text
    assert _rows(both) == ["document.claim"]
    nothing = reviewer.get("/audit", params={"customer": "CUS000000000"}).text
    assert _rows(nothing) == [] and "没有记录" in nothing


def test_audit_pages_show_china_time_and_chinese_actions(client_of, world: WebWorld) -> None:
    with Session(world.engine) as session:
        for _ in range(AUDIT_PAGE_SIZE + 5):
            repo.add_audit_event(
                session, actor="rev2", action="user.login", entity_type="user", entity_id="rev2"
            )
        session.add(
            AuditEvent(
                at=datetime(2026, 3, 1, 17, 30, tzinfo=UTC),
                actor="rev2",
                action="document.approve",
                entity_type="document",
                entity_id=str(world.documents["a"]),
                before={"status": "pending_review"},
                after={"status": "archived"},
            )
        )
        session.commit()
    reviewer = client_of("rev1")
    first = reviewer.get("/audit", params={"user": "rev2"}).text
    assert len(_rows(first)) == AUDIT_PAGE_SIZE
    assert "第 1 / 2 页" in first and "共 56 条" in first
    assert "page=2" in first and "user=rev2" in first
    assert "2026-03-02 01:30" in first  # 17:30 UTC is 01:30 the next day in China
    assert "审核通过" in first and "登录" in first
    assert re.search(r"状态</span>：\s*<span class=\"before\">待审核</span>.*?已归档", first, re.S)
    second = reviewer.get("/audit", params={"user": "rev2", "page": "2"}).text
    assert _rows(second) == ["user.login"] * 6 and "第 2 / 2 页" in second
    text_only = re.sub(r"<[^>]+>", " ", re.sub(r"<(code|select)\b.*?</\1>", "", first, flags=re.S))
    assert not re.search(r"document\.|user\.", text_only)
    beyond = reviewer.get("/audit", params={"user": "rev2", "page": "9"})
    assert beyond.status_code == 200 and _rows(beyond.text) == []
