"""Merging a duplicate customer (SQLite, PostgreSQL; local object store): everything moves to
the kept record, objects are refiled under its name, the integrity check stays clean."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from archive import contacts, cooperations, customers, followups, tags
from archive.customer_merge import merge_customers
from archive.integrity import CheckOptions, run_checks
from archive.permissions import PermissionDeniedError
from archive.storage import LocalObjectStore
from archive.users import create_user
from config.clock import china_date
from config.settings import load_settings
from models import repo
from models.document import Document
from models.repo import NotFoundError, ValidationError
from tests.integration.test_review import add_document


def _enterprise(name: str, uscc: str) -> dict:
    return {
        "name": name,
        "customer_type": "企业客户",
        "uscc": uscc,
        "legal_representative": "王五",
        "established_date": "2015-03-12",
        "address": "北京市海淀区中关村大街1号",
    }


# The sample PDFs have no text layer and the customers no full checklist: not what a merge moves.
_NOT_ABOUT_PLACEMENT = ("no_text_layer", "checklist_missing")


def _problems(engine: Engine, store: LocalObjectStore) -> list[tuple[str, str | None]]:
    report = run_checks(
        engine=engine, store=store, taxonomy=load_settings().taxonomy, options=CheckOptions()
    )
    return sorted(
        (f.kind, f.object_key)
        for f in report.findings
        if f.severity in ("critical", "warning") and f.kind not in _NOT_ABOUT_PLACEMENT
    )


def test_admin_merges_a_duplicate_and_the_archive_stays_clean(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    from tests.fixtures.db import make_uscc

    settings = load_settings()
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    admin = create_user(session, username="a1", password="secret-pw3", role="admin", actor="t")
    sales = create_user(session, username="s1", password="secret-pw1", role="sales", actor="t")
    session.commit()
    kept, _ = customers.create_customer(
        session, settings, admin, _enterprise("北京某某科技有限公司", make_uscc(1))
    )
    dup, similar = customers.create_customer(
        session, settings, admin, _enterprise("北京某某科技（有限公司）", make_uscc(2))
    )
    assert [c.code for c in similar] == [kept.code]  # flagged as a likely duplicate
    for name in ("制造业", "高价值"):
        tags.add_tag(session, admin, name)
    tags.tag_customer(session, admin, kept.code, ["制造业"])
    tags.tag_customer(session, admin, dup.code, ["制造业", "高价值"])
    contacts.add_contact(session, settings, admin, kept.code, {"name": "甲", "is_primary": True})
    moved_contact = contacts.add_contact(
        session, settings, admin, dup.code, {"name": "乙", "is_primary": True}
    )
    followups.add_follow_up(session, settings, admin, dup.code, {"content": "拜访"})
    cooperations.add_cooperation(
        session, settings, admin, dup.code,
        {"name": "合同", "signed_date": china_date().isoformat(), "amount": "600000"},
    )  # fmt: skip
    session.commit()
    doc = add_document(session, store, customer=dup, seed=0, status="archived")
    own = add_document(session, store, customer=kept, seed=1, status="archived")
    old_key, own_key = doc.pdf_key, own.pdf_key
    assert "北京某某科技有限公司/" not in (old_key or "")
    assert _problems(engine, store) == []
    with pytest.raises(PermissionDeniedError):
        merge_customers(session, store, settings, sales, keep=kept.code, remove=dup.code)
    with pytest.raises(ValidationError, match="不能与自身合并"):
        merge_customers(session, store, settings, admin, keep=kept.code, remove=kept.code)

    result = merge_customers(session, store, settings, admin, keep=kept.code, remove=dup.code)

    assert result.removed_code == dup.code and result.refile_failed == []
    assert result.moved.documents == [doc.id] and result.moved.tags_added == ["高价值"]
    assert repo.get_customer(session, code=dup.code) is None
    with pytest.raises(NotFoundError):
        customers.get_visible(session, admin, dup.code)
    moved_doc = session.get(Document, doc.id)
    assert moved_doc is not None and moved_doc.customer_id == kept.id
    assert "北京某某科技有限公司" in (moved_doc.pdf_key or "")
    assert moved_doc.pdf_key != old_key
    assert store.exists(moved_doc.pdf_key) and not store.exists(old_key)  # type: ignore[arg-type]
    assert session.get(Document, own.id).pdf_key == own_key  # type: ignore[union-attr]
    names = [c.name for c in contacts.list_contacts(session, admin, kept.code)]
    assert names == ["甲", "乙"]  # the kept record's primary contact stays primary
    assert session.get(type(moved_contact), moved_contact.id).is_primary is False  # type: ignore[union-attr]
    assert len(followups.list_follow_ups(session, admin, kept.code)) == 1
    assert result.kept.value_tier == "高价值" and result.kept.level == "A类大客户"
    assert {t.name for t in tags.customer_tags(session, admin, kept.code)} == {"制造业", "高价值"}
    merge_event = repo.list_audit_events(session, entity_type="customer", entity_id=dup.code)[-1]
    assert merge_event.action == "customer.merge"
    assert merge_event.before["name"] == "北京某某科技（有限公司）"
    assert merge_event.after["merged_into"] == kept.code
    session.commit()
    assert _problems(engine, store) == []
