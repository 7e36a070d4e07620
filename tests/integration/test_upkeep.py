"""The monthly upkeep report (issue 17, item 5) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from openpyxl import load_workbook
from sqlmodel import Session

from archive import contacts, customers, followups
from archive.storage import LocalObjectStore
from archive.upkeep import SECTIONS, upkeep_report, write_upkeep_xlsx
from archive.users import create_user
from config.clock import china_date
from config.settings import load_settings
from models.contact import Contact
from models.db import utcnow
from tests.fixtures.db import make_uscc
from tests.integration.test_integrity import build_clean_archive


def test_upkeep_report_finds_what_needs_tidying(engine, tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    arc = build_clean_archive(engine, store)  # two customers with complete checklists
    today = china_date()
    soon = {"value": (today + timedelta(days=10)).isoformat(), "confidence": 0.9}
    arc.add_doc("ent_id2", customer="ent", document_type="id_card", fields={"valid_to": soon})
    gone = {"value": "2020-01-01", "confidence": 0.9}
    arc.add_doc("ind_id2", customer="ind", document_type="id_card", fields={"valid_to": gone})
    settings = load_settings()
    ent, ind = arc.customers["ent"].code, arc.customers["ind"].code
    with Session(engine) as session:
        admin = create_user(session, username="ada", password="secret-pw3", role="admin", actor="t")
        twin, _ = customers.create_customer(session, settings, admin, {
            "name": "北京测试科技（有限公司）", "customer_type": "企业客户", "uscc": make_uscc(99),
            "legal_representative": "王五", "established_date": "2016-01-01",
            "address": "北京市朝阳区1号"})  # fmt: skip
        contacts.add_contact(session, settings, admin, ent, {"name": "老联系人"})
        session.execute(sa.update(Contact).values(updated_at=utcnow() - timedelta(days=400)))
        followups.add_follow_up(session, settings, admin, ind, {"content": "电话回访"})
        session.commit()
        report = upkeep_report(session, settings, admin)
    assert [r["customers"] for r in report["duplicates"]] == [f"{ent}、{twin.code}"]
    assert [(r["code"], r["contact"]) for r in report["stale_contacts"]] == [(ent, "老联系人")]
    assert {r["code"] for r in report["no_follow_up"]} == {ent, twin.code}
    assert [r["code"] for r in report["expired"]] == [ind]
    assert [r["code"] for r in report["expiring"]] == [ent]
    assert [r["code"] for r in report["incomplete"]] == [twin.code]
    out = tmp_path / "upkeep.xlsx"
    write_upkeep_xlsx(out, report)
    assert load_workbook(out).sheetnames == list(SECTIONS.values())
