"""Customer export (issue 17) on SQLite and PostgreSQL: masked by default (grep the bytes),
full only for admins who ask, every export audited; and files the import refuses as a whole."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, select

from archive import customers
from archive.customer_query import CustomerFilter
from archive.errors import ImportRefusedError
from archive.exchange.export import export_customers
from archive.exchange.importing import import_file
from archive.exchange.reading import read_rows
from archive.exchange.template import write_template
from archive.permissions import PermissionDeniedError
from archive.users import create_user
from config.settings import load_settings
from models.audit import AuditEvent
from models.customer import Customer
from tests.fixtures.db import make_id_number, make_uscc

PHONES = ["13812345678", "13987654321"]
EMAILS = ["zhangsan@example.com", "lisi@example.org"]


@pytest.fixture
def people(session: Session):
    admin = create_user(session, username="ada", password="secret-pw3", role="admin", actor="t")
    rev = create_user(session, username="rex", password="secret-pw4", role="reviewer", actor="t")
    settings = load_settings()
    customers.create_customer(session, settings, admin, {
        "name": "北京某某科技有限公司", "customer_type": "企业客户", "uscc": make_uscc(1),
        "legal_representative": "张三", "established_date": "2015-03-12",
        "address": "北京市海淀区1号", "phone": PHONES[0], "email": EMAILS[0]})  # fmt: skip
    customers.create_customer(session, settings, admin, {
        "name": "王五", "customer_type": "个人客户", "id_number": make_id_number(7),
        "phone": PHONES[1], "email": EMAILS[1], "notes": "=HYPERLINK(\"http://x\")"})  # fmt: skip
    session.commit()
    return admin, rev


def _all_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            data += b"".join(z.read(n) for n in z.namelist())
    return data


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_masked_export_holds_no_full_phone_id_or_email(session, people, tmp_path, fmt):
    admin, _ = people
    out = tmp_path / f"out.{fmt}"
    summary = export_customers(
        session, load_settings(), admin, CustomerFilter(), fmt=fmt, output=out
    )
    session.commit()
    assert summary["rows"] == 2 and summary["masked"]
    data = _all_bytes(out)
    secrets = [*PHONES, *EMAILS, make_id_number(7), "13812345678"]
    for secret in secrets:
        assert secret.encode() not in data, secret
    assert b"138****5678" in data and b"110105********" in data
    assert b"z***@example.com" in data
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "customer.export")).one()
    assert event.actor == "ada" and event.after["rows"] == 2 and event.after["masked"] is True


def test_full_export_for_admins_only_and_audited(session, people, tmp_path):
    admin, reviewer = people
    settings = load_settings()
    with pytest.raises(PermissionDeniedError):
        export_customers(session, settings, reviewer, CustomerFilter(), fmt="csv",
                         output=tmp_path / "no.csv", full=True)  # fmt: skip
    out = tmp_path / "full.xlsx"
    filters = CustomerFilter(customer_type="enterprise")
    summary = export_customers(session, settings, admin, filters, fmt="xlsx", output=out, full=True)
    session.commit()
    assert summary == {"file": str(out), "format": "xlsx", "rows": 1, "masked": False}
    sheet = load_workbook(out, read_only=True)["客户资料"]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert PHONES[0] in rows[1] and EMAILS[0] in rows[1]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "customer.export")).one()
    assert event.after["masked"] is False and event.after["filter"] == {
        "customer_type": "enterprise"
    }
    # A full export re-imports as "unchanged"; a masked one is refused row by row.
    report = import_file(session, settings, admin, out)
    assert (report.unchanged, report.rejected) == (1, [])
    masked = tmp_path / "masked.xlsx"
    export_customers(session, settings, admin, filters, fmt="xlsx", output=masked)
    assert [r.column for r in import_file(session, settings, admin, masked).rejected] == [
        "联系方式"
    ]
    assert session.exec(select(Customer).where(Customer.phone == PHONES[0])).one()


# --- files refused as a whole (no database needed) ---------------------------------------------


def _refused(path: Path, reason: str) -> str:
    with pytest.raises(ImportRefusedError) as caught:
        list(read_rows(path))
    assert caught.value.detail["reason"] == reason, caught.value.message
    return caught.value.message


def test_bad_files_are_refused_with_a_reason(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "为空" in _refused(empty, "empty")
    encrypted = tmp_path / "locked.xlsx"
    encrypted.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    assert "加密" in _refused(encrypted, "encrypted")
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (50 * 1024 * 1024))
    assert "压缩炸弹" in _refused(bomb, "zip_bomb")
    renamed = tmp_path / "text.xlsx"
    renamed.write_text("客户名称,客户类型\n", encoding="utf-8")
    _refused(renamed, "corrupt")
    book = Workbook()
    book.active.title = "Sheet1"
    book.active.append(["姓名", "电话"])
    book.active.append(["张三", "13800138000"])
    wrong = tmp_path / "wrong.xlsx"
    book.save(wrong)
    assert "表头" in _refused(wrong, "no_header")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    path = tmp_path / "c.csv"
    text = "客户资料导入\n备注,客户类型,客户名称,多余列\n甲,企业客户,北京某某科技有限公司,x\n"
    path.write_bytes(text.encode(encoding))
    rows = list(read_rows(path))
    assert [r.values["name"] for r in rows] == ["北京某某科技有限公司"]
    assert rows[0].number == 3 and rows[0].values["notes"] == "甲"
    assert codecs.BOM_UTF8 not in path.read_bytes() or encoding == "utf-8-sig"


def test_template_has_dropdowns_and_reads_back_as_empty(tmp_path):
    path = tmp_path / "template.xlsx"
    write_template(path, load_settings().taxonomy)
    book = load_workbook(path)
    sheet = book["客户资料"]
    assert sheet["B1"].value == "客户名称*" and len(sheet.data_validations.dataValidation) >= 8
    assert list(read_rows(path)) == []
    with pytest.raises(ImportRefusedError):
        import_file(None, load_settings(), None, path)  # type: ignore[arg-type]


def test_mask_email_keeps_first_letter_and_domain():
    from models.validation import mask_email

    assert mask_email("zhangsan@example.com") == "z***@example.com"
    assert mask_email("x@y.cn") == "x***@y.cn"
    assert mask_email("not-an-email") == "************"


def test_xml_entity_bomb_in_a_sheet_is_refused(tmp_path):
    book = Workbook()
    book.active.title = "客户资料"
    book.active.append(["客户名称", "客户类型"])
    book.active.append(["北京某某科技有限公司", "企业客户"])
    plain = tmp_path / "plain.xlsx"
    book.save(plain)
    bomb = tmp_path / "entities.xlsx"
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(bomb, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = laughs.encode()
            dst.writestr(item, data)
    assert "XLSX" in _refused(bomb, "corrupt")


def test_csv_export_guards_formulas_and_reimports_unchanged(session, people, tmp_path):
    admin, _ = people
    out = tmp_path / "full.csv"
    settings = load_settings()
    export_customers(session, settings, admin, CustomerFilter(), fmt="csv", output=out, full=True)
    text = out.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    report = import_file(session, settings, admin, out)
    assert (report.unchanged, report.rejected) == (2, [])
