"""Customer import (issue 17) on SQLite and PostgreSQL: 1,000 rows with 37 planted errors,
all-or-nothing, --partial with a reject file that re-imports once fixed, re-import is a no-op."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlmodel import Session, func, select

from archive.exchange.columns import COLUMNS
from archive.exchange.importing import import_file
from archive.exchange.template import ERROR_HEADER, write_rejects
from archive.users import create_user
from config.settings import load_settings
from models.audit import AuditEvent
from models.customer import Customer
from tests.fixtures.db import make_id_number, make_uscc

HEADER = dict((f, h) for f, h in COLUMNS)
FIRST_DATA_ROW = 3  # a merged title row, then the header


def good(i: int) -> dict[str, Any]:
    """A valid row (keyed by Chinese header); 备注 carries the row's id."""
    row = {"客户名称": f"测试{i}号科技有限公司", "联系人": "李四", "联系方式": f"138{i:08d}",
           "电子邮箱": f"user{i}@example.com", "备注": f"R{i}", "所属行业": "制造业"}  # fmt: skip
    if i % 10 < 7:
        return row | {
            "客户类型": "企业客户", "统一社会信用代码": make_uscc(i + 1), "法定代表人": "张三",
            "成立时间": "2015-03-12", "地址": "北京市海淀区中关村大街1号", "客户状态": "成交客户",
            "客户等级": "C类小客户", "负责人": "ada",
        }  # fmt: skip
    return row | {"客户名称": f"王{i}", "客户类型": "个人客户", "证件号码": make_id_number(i)}


def _as_enterprise(row: dict[str, Any], i: int) -> dict[str, Any]:
    base = good(i - (i % 10) if i % 10 >= 7 else i)
    return (
        {k: v for k, v in row.items() if k != "证件号码"}
        | {k: base[k] for k in ("客户类型", "统一社会信用代码", "法定代表人", "成立时间", "地址")}
        | {"统一社会信用代码": make_uscc(5000 + i)}
    )


def _bad_uscc(row: dict[str, Any], i: int) -> tuple[dict[str, Any], str]:
    row = _as_enterprise(row, i)
    good_code = row["统一社会信用代码"]
    wrong = "0" if good_code[-1] != "0" else "1"
    return row | {"统一社会信用代码": good_code[:-1] + wrong}, "统一社会信用代码"


def _bad_id(row: dict[str, Any], i: int) -> tuple[dict[str, Any], str]:
    row = {
        k: v
        for k, v in row.items()
        if k not in ("统一社会信用代码", "法定代表人", "成立时间", "地址")
    }
    number = make_id_number(i % 1000)
    wrong = "0" if number[-1] != "0" else "1"
    return row | {
        "客户类型": "个人客户",
        "客户状态": "潜在客户",
        "证件号码": number[:-1] + wrong,
    }, "证件号码"


def _duplicate(row: dict[str, Any], i: int) -> tuple[dict[str, Any], str]:
    previous = good(i - 1)
    keys = ("客户类型", "统一社会信用代码", "证件号码", "法定代表人", "成立时间", "地址")
    row = {k: v for k, v in row.items() if k not in keys} | {
        k: previous[k] for k in keys if k in previous
    }
    return row, "统一社会信用代码" if "统一社会信用代码" in previous else "证件号码"


MUTATIONS = [
    lambda r, i: (r | {"联系方式": "12345"}, "联系方式"),
    lambda r, i: (r | {"电子邮箱": "a@@example"}, "电子邮箱"),
    lambda r, i: (r | {"客户名称": ""}, "客户名称"),
    lambda r, i: (r | {"所属行业": "外星产业"}, "所属行业"),
    lambda r, i: (r | {"服务满意度": "7"}, "服务满意度"),
    lambda r, i: (r | {"累计合作金额": "十万"}, "累计合作金额"),
    lambda r, i: (r | {"负责人": "nobody"}, "负责人"),
    lambda r, i: (r | {"客户状态": "热门客户"}, "客户状态"),
    lambda r, i: (r | {"客户类型": "政府机关"}, "客户类型"),
    lambda r, i: (r | {"首次合作时间": "2020-05-01", "最近合作日期": "2019-01-01"}, "最近合作日期"),
    lambda r, i: (r | {"最近服务时间": "2020/5/1"}, "最近服务时间"),
    lambda r, i: (r | {"最近服务时间": 43000}, "最近服务时间"),  # an Excel serial
    lambda r, i: (r | {"地址": "=A1&B1"}, "地址"),  # a formula
    lambda r, i: (r | {"客户编号": "CUS209901999"}, "客户编号"),
    _bad_uscc,
    _bad_id,
    _duplicate,
]
PLANTED = [5 + 27 * k for k in range(37)]


def planted_file(path: Path, rows: list[dict[str, Any]]) -> None:
    """An XLSX with a merged title row, columns in reverse order and an extra column."""
    book = Workbook()
    sheet = book.active
    sheet.title = "客户资料"
    headers = [h for _, h in reversed(COLUMNS)] + ["内部备用"]
    sheet.append(["客户资料导入（2026年）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=8)
    sheet.append(headers)
    for row in rows:
        sheet.append([row.get(h, "x" if h == "内部备用" else None) for h in headers])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "f"
    book.save(path)


def rows_with_errors() -> tuple[list[dict[str, Any]], set[tuple[int, str]]]:
    rows = [good(i) for i in range(1000)]
    expected = set()
    for k, i in enumerate(PLANTED):
        rows[i], column = MUTATIONS[k % len(MUTATIONS)](rows[i], i)
        expected.add((FIRST_DATA_ROW + i, column))
    return rows, expected


@pytest.fixture
def admin(session: Session):
    user = create_user(session, username="ada", password="secret-pw3", role="admin", actor="t")
    session.commit()
    return user


def _count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Customer)).one()


def _fix(rejects: Path, fixed: Path) -> int:
    """Replace every rejected row by its good version (by 备注 id), keeping the 错误 column."""
    with rejects.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    header, body = table[0], table[1:]
    assert header[-1] == ERROR_HEADER
    notes = header.index("备注")
    out = [header]
    for cells in body:
        i = int(cells[notes].removeprefix("R"))
        values = good(i) | ({"统一社会信用代码": make_uscc(7000 + i)} if i % 10 < 7 else {})
        if i % 10 >= 7:
            values["证件号码"] = make_id_number(i % 1000)
        out.append([str(values.get(h, "")) for h in header[:-1]] + [cells[-1]])
    with fixed.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(out)
    return len(body)


def test_planted_errors_all_or_nothing_then_partial_then_fixed(session, admin, tmp_path):
    settings = load_settings()
    rows, expected = rows_with_errors()
    path = tmp_path / "customers.xlsx"
    planted_file(path, rows)

    report = import_file(session, settings, admin, path)
    assert {(r.row, r.column) for r in report.rejected} == expected
    assert len(report.rejected) == 37 and not report.committed and _count(session) == 0

    report = import_file(session, settings, admin, path, partial=True)
    assert report.committed and report.created == 963 and len(report.rejected) == 37
    assert _count(session) == 963
    rejects = tmp_path / "rejected.csv"
    assert write_rejects(rejects, report.rejected) == 37

    fixed = tmp_path / "fixed.csv"
    assert _fix(rejects, fixed) == 37
    report = import_file(session, settings, admin, fixed)
    assert report.rejected == [] and report.created == 37 and _count(session) == 1000


def test_reimport_changes_nothing_and_updates_are_audited(session, admin, tmp_path):
    settings = load_settings()
    path = tmp_path / "good.xlsx"
    planted_file(path, [good(i) for i in range(40)])
    first = import_file(session, settings, admin, path)
    assert first.created == 40 and first.rejected == []
    events = session.exec(select(func.count()).select_from(AuditEvent)).one()

    again = import_file(session, settings, admin, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 40)
    assert session.exec(select(func.count()).select_from(AuditEvent)).one() == events + 1

    changed = [good(i) for i in range(40)]
    changed[3] = changed[3] | {"联系方式": "13900000003"}
    planted_file(path, changed)
    report = import_file(session, settings, admin, path)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 39)
    update = session.exec(select(AuditEvent).where(AuditEvent.action == "customer.update")).all()
    assert len(update) == 1
    assert update[0].before["phone"] == "13800000003" and update[0].after["phone"] == "13900000003"


def test_uscc_owned_by_another_customer_is_refused(session, admin, tmp_path):
    settings = load_settings()
    path = tmp_path / "two.csv"
    a, b = good(0), good(1)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(a))
        writer.writerows([[a[k] for k in a], [b[k] for k in a]])
    assert import_file(session, settings, admin, path).created == 2
    code_b = session.exec(select(Customer).where(Customer.uscc == b["统一社会信用代码"])).one().code
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["客户编号", *a])
        writer.writerow([code_b, *[a[k] for k in a]])
    report = import_file(session, settings, admin, path)
    assert [(r.row, r.column, r.rule) for r in report.rejected] == [
        (2, "统一社会信用代码", "identifier_taken")
    ]


def test_full_width_digits_and_date_cells_are_read_as_typed(session, admin, tmp_path):
    from datetime import datetime

    row = good(0)
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    row |= {"统一社会信用代码": row["统一社会信用代码"].translate(wide),
            "联系方式": row["联系方式"].translate(wide),
            "成立时间": datetime(2015, 3, 12)}  # fmt: skip
    path = tmp_path / "wide.xlsx"
    planted_file(path, [row])
    report = import_file(session, load_settings(), admin, path)
    assert report.created == 1 and report.rejected == []
    stored = session.exec(select(Customer)).one()
    assert stored.uscc == make_uscc(1) and stored.phone == "13800000000"
    assert stored.established_date.isoformat() == "2015-03-12"


def test_too_many_rows_are_refused_before_anything_is_written(session, admin, tmp_path):
    from archive.errors import ImportRefusedError
    from archive.exchange.reading import MAX_ROWS

    path = tmp_path / "huge.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("客户名称,客户类型\n")
        f.writelines(f"客户{n},企业客户\n" for n in range(MAX_ROWS + 1))
    with pytest.raises(ImportRefusedError, match="上限"):
        import_file(session, load_settings(), admin, path)
    assert _count(session) == 0


def test_a_changed_customer_type_is_a_rejected_row(session, admin, tmp_path):
    settings = load_settings()
    path = tmp_path / "one.csv"
    row = good(7)  # an individual
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([list(row), list(row.values())])
    assert import_file(session, settings, admin, path).created == 1
    code = session.exec(select(Customer)).one().code
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(
            [["客户编号", "客户名称", "客户类型"], [code, row["客户名称"], "企业客户"]]
        )
    report = import_file(session, settings, admin, path)
    assert [(r.column, r.rule) for r in report.rejected] == [("客户类型", "not_editable")]


def test_batches_write_what_one_by_one_would_and_report_progress(session, admin, tmp_path):
    """1,000 rows (two batches): consecutive codes of the month, one customer.create event
    with the values each, progress after every batch, the same file again all unchanged."""
    settings = load_settings()
    path = tmp_path / "many.csv"
    rows = [good(i) for i in range(1000)]
    headers = sorted({h for r in rows for h in r})
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows([r.get(h, "") for h in headers] for r in rows)
    calls: list[tuple[int, int]] = []
    report = import_file(session, settings, admin, path, progress=lambda d, t: calls.append((d, t)))
    assert report.committed and report.created == 1000 and report.rejected == []
    assert calls == [(0, 1000), (500, 1000), (1000, 1000), (1000, 1000)]
    stored = session.exec(select(Customer).order_by(Customer.id)).all()
    codes = [c.code for c in stored]
    seqs = [int(c[len("CUS") + 6 :]) for c in codes]  # CUS + YYYYMM + sequence
    assert seqs == list(range(seqs[0], seqs[0] + 1000))
    assert [c.notes for c in stored] == [f"R{i}" for i in range(1000)]
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "customer.create")).all()
    assert sorted(e.entity_id for e in events) == sorted(codes)
    by_code = {e.entity_id: e for e in events}
    first = stored[7]  # an individual: the ID number masked in the audit
    assert (
        by_code[first.code].after["name"] == first.name
        and "*" in by_code[first.code].after["id_number"]
    )

    again = import_file(session, settings, admin, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1000)


def test_bulk_create_refuses_a_taken_identifier_and_writes_nothing(session, admin):
    from archive import customers
    from models.repo import ConflictError

    settings = load_settings()
    values = {"name": "甲公司", "customer_type": "企业客户", "uscc": make_uscc(1),
              "legal_representative": "张三", "established_date": "2015-03-12",
              "address": "北京市海淀区1号"}  # fmt: skip
    first = customers.prepare_customer(settings, admin, values)
    customers.create_customers(session, admin, [first])
    session.commit()
    other = customers.prepare_customer(settings, admin, values | {"uscc": make_uscc(2)})
    with pytest.raises(ConflictError, match="已被客户"):
        customers.create_customers(session, admin, [other, first])
    session.rollback()
    assert _count(session) == 1
