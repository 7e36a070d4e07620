"""Customer import (issue 17), edits of existing customers on SQLite and PostgreSQL: checked once
and written by the batch (one UPDATE per customer with its version, the audit events of the
batch in one insert), as the editor writes them one by one."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from archive import cooperations, customers
from archive.exchange import importing
from archive.exchange.importing import BATCH, ImportReport, import_file
from archive.exchange.reading import Row
from archive.users import create_user
from config.clock import china_date
from config.settings import load_settings
from models import repo
from models.audit import AuditEvent
from models.customer import Customer
from tests.fixtures.db import make_uscc
from tests.integration.test_exchange_import import good

ROWS = BATCH + 100  # two batches
BAD = (250, BATCH + 50)  # rows (0-based) whose edit breaks a rule, one in each batch


@pytest.fixture
def admin(session: Session):
    user = create_user(session, username="ada", password="secret-pw3", role="admin", actor="t")
    session.commit()
    return user


def _enterprise(i: int) -> dict[str, Any]:
    """A valid enterprise row of the template (good() rows 7-9 of ten are individuals)."""
    return good((i // 7) * 10 + i % 7)


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    headers = sorted({h for r in rows for h in r})
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows([r.get(h, "") for h in headers] for r in rows)
    return path


def _events(session: Session, action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
    return list(session.exec(query))


def _by_uscc(session: Session) -> dict[str, Customer]:
    return {c.uscc: c for c in session.exec(select(Customer)) if c.uscc}


def _imported(session: Session, admin, tmp_path: Path, n: int) -> list[dict[str, Any]]:
    rows = [_enterprise(i) for i in range(n)]
    report = import_file(session, load_settings(), admin, _write(tmp_path / "first.csv", rows))
    assert report.created == n and report.committed
    return rows


def test_an_import_edit_writes_what_the_editor_writes(session, admin, tmp_path):
    """Two like customers with a signed record (tier and level derived): one edited in the
    editor, the other by an import row with the same values; the same stored values, version
    and audit events (update, then derive: the total typed by hand)."""
    settings = load_settings()
    rows = _imported(session, admin, tmp_path, 2)
    record = {"name": "年度采购", "signed_date": china_date().isoformat(), "amount": "600000"}
    for c in session.exec(select(Customer)):
        cooperations.add_cooperation(session, settings, admin, c.code, record)
    session.commit()
    a, b = (_by_uscc(session)[r["统一社会信用代码"]] for r in rows)
    assert a.value_tier == b.value_tier == "高价值" and a.level == "A类大客户"
    ids = a.id, b.id
    customers.edit_customer(session, settings, admin, a.code,
                            {"phone": "13900000000", "cumulative_amount": "1000000"},
                            version=a.version)  # fmt: skip
    session.commit()
    change = {"联系方式": "13900000000", "累计合作金额": "1000000"}
    row = {k: v for k, v in rows[1].items() if k != "客户等级"} | change  # level: the tier's
    report = import_file(session, settings, admin, _write(tmp_path / "b.csv", [row]))
    assert (report.updated, report.rejected) == (1, [])
    session.expire_all()
    a, b = session.get(Customer, ids[0]), session.get(Customer, ids[1])
    names = ["phone", "cumulative_amount", "manual_fields", "annual_amount", "value_tier",
             "level", "level_reason", "version", "updated_by"]  # fmt: skip
    assert [getattr(a, n) for n in names] == [getattr(b, n) for n in names]
    assert b.manual_fields == ["cumulative_amount"] and b.version == a.version

    def trail(code: str) -> list[tuple[str, Any, Any]]:  # the phones before differ
        events = session.exec(select(AuditEvent).where(AuditEvent.entity_id == code)
                              .order_by(col(AuditEvent.id))).all()  # fmt: skip
        return [(e.action, sorted(e.before or ()), e.after) for e in events][-2:]

    assert trail(a.code) == trail(b.code)
    assert [t[0] for t in trail(b.code)] == ["customer.update", "customer.derive"]


@pytest.mark.parametrize("mode", ["all_or_nothing", "dry_run", "partial"])
def test_edits_by_the_batch_follow_the_mode_and_report_failing_rows(session, admin, tmp_path, mode):
    """Every phone changed over two batches, one row of each breaking a rule: that row is
    reported with its number; the others are written (partial: version 2, before/after each)
    or nothing is (all or nothing, dry run)."""
    settings = load_settings()
    rows = _imported(session, admin, tmp_path, ROWS)
    changed = [r | {"联系方式": f"137{i:08d}"} for i, r in enumerate(rows)]
    for i in BAD:
        changed[i] = changed[i] | {"电子邮箱": "a@@example"}
    path = _write(tmp_path / "changed.csv", changed)
    report = import_file(session, settings, admin, path, partial=mode == "partial",
                         dry_run=mode == "dry_run")  # fmt: skip
    assert [(r.row, r.column) for r in report.rejected] == [(i + 2, "电子邮箱") for i in BAD]
    assert (report.updated, report.unchanged) == (ROWS - 2, 0)
    assert report.committed == (mode == "partial")
    session.expire_all()
    stored = _by_uscc(session)
    updates = _events(session, "customer.update")
    if mode != "partial":
        assert updates == [] and {c.version for c in stored.values()} == {1}
        return
    for i, r in enumerate(rows):
        c = stored[r["统一社会信用代码"]]
        expected = (r["联系方式"], 1) if i in BAD else (f"137{i:08d}", 2)
        assert (c.phone, c.version) == expected
    assert len(updates) == ROWS - 2 and {e.entity_id for e in updates} == {
        stored[r["统一社会信用代码"]].code for i, r in enumerate(rows) if i not in BAD
    }
    by_code = {e.entity_id: e for e in updates}
    one = stored[rows[0]["统一社会信用代码"]]
    assert by_code[one.code].before == {"phone": rows[0]["联系方式"]}
    assert by_code[one.code].after == {"phone": "13700000000"}

    events = session.exec(select(func.count()).select_from(AuditEvent)).one()
    again = import_file(session, settings, admin, path, partial=True)
    assert (again.updated, again.unchanged, len(again.rejected)) == (0, ROWS - 2, 2)
    assert session.exec(select(func.count()).select_from(AuditEvent)).one() == events + 1


def test_two_rows_of_a_batch_naming_one_customer_are_both_applied(session, admin, tmp_path):
    rows = _imported(session, admin, tmp_path, 3)
    target = _by_uscc(session)[rows[1]["统一社会信用代码"]]
    target_id = target.id
    by_code = {"客户编号": target.code, "客户名称": rows[1]["客户名称"], "客户类型": "企业客户",
               "联系方式": "13912345678"}  # fmt: skip
    by_uscc = {k: v for k, v in rows[1].items() if k != "联系方式"}  # blank: left alone
    by_uscc["电子邮箱"] = "new@example.com"
    report = import_file(session, load_settings(), admin,
                         _write(tmp_path / "twice.csv", [rows[0], by_code, by_uscc]))  # fmt: skip
    assert (report.updated, report.unchanged, report.rejected) == (2, 1, [])
    session.expire_all()
    target = session.get(Customer, target_id)
    assert (target.phone, target.email, target.version) == ("13912345678", "new@example.com", 3)
    assert [e.after for e in _events(session, "customer.update")] == [
        {"phone": "13912345678"}, {"email": "new@example.com"}]  # fmt: skip


def test_a_customer_saved_meanwhile_is_a_conflict_the_others_are_written(session, admin, tmp_path):
    settings = load_settings()
    rows = _imported(session, admin, tmp_path, 3)
    taxonomy = repo.options_in_effect(session, settings.taxonomy)
    loaded = [_by_uscc(session)[r["统一社会信用代码"]] for r in rows]
    plans = [customers.plan_edit(session, settings, admin, c, {"phone": f"1370000000{i}"},
                                 taxonomy=taxonomy) for i, c in enumerate(loaded)]  # fmt: skip
    same = {"phone": loaded[0].phone}
    assert all(plans)
    assert customers.plan_edit(session, settings, admin, loaded[0], same, taxonomy=taxonomy) is None
    table = Customer.__table__  # type: ignore[attr-defined]
    # Another save after the customers were loaded:
    session.execute(sa.update(table).where(table.c.id == loaded[1].id)
                    .values(version=2, updated_by="bob"))  # fmt: skip
    outcomes = customers.edit_customers(session, settings, admin, plans)  # type: ignore[arg-type]
    assert outcomes[0] is None and outcomes[2] is None
    assert outcomes[1] is not None and "bob" in outcomes[1].message
    session.commit()
    session.expire_all()
    assert [(c.phone, c.version) for c in (session.get(Customer, c.id) for c in loaded)] == [
        ("13700000000", 2), (rows[1]["联系方式"], 2), ("13700000002", 2)]  # fmt: skip
    assert [e.entity_id for e in _events(session, "customer.update")] == [
        loaded[0].code, loaded[2].code]  # fmt: skip


def test_a_batch_that_fails_as_a_whole_is_written_row_by_row(session, admin, tmp_path):
    """An identifier taken by another session between judging and writing: the batch's write
    is refused, then each edit is written alone and only that row is rejected, by number."""
    settings = load_settings()
    rows = _imported(session, admin, tmp_path, 2)
    taxonomy = repo.options_in_effect(session, settings.taxonomy)
    a, b = (_by_uscc(session)[r["统一社会信用代码"]] for r in rows)
    plans = [customers.plan_edit(session, settings, admin, a, {"phone": "13700000000"},
                                 taxonomy=taxonomy),
             customers.plan_edit(session, settings, admin, b, {"uscc": make_uscc(900)},
                                 taxonomy=taxonomy)]  # fmt: skip
    values = {"name": "丁公司", "customer_type": "企业客户", "uscc": make_uscc(900),
              "legal_representative": "王五", "established_date": "2016-01-01",
              "address": "北京"}  # fmt: skip
    taken = customers.prepare_customer(settings, admin, values)
    customers.create_customers(session, admin, [taken])
    ctx = importing.Ctx(session, settings, admin, taxonomy, frozenset())
    report = ImportReport()
    importing._edit(ctx, [(Row(7, {}), plans[0]), (Row(8, {}), plans[1])], report)  # type: ignore[list-item]
    assert report.updated == 1
    assert [(r.row, r.column) for r in report.rejected] == [(8, "统一社会信用代码")]
    session.expire_all()
    assert session.get(Customer, a.id).phone == "13700000000"
    assert session.get(Customer, b.id).uscc == rows[1]["统一社会信用代码"]
