"""Reading a customer workbook (issue 17) with calamine: the template's tolerances (title rows,
header order, extra columns), dates as typed, formulas found by the sheet scan, and hostile
workbooks refused before or while calamine reads them (no database needed)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from archive.errors import ImportRefusedError
from archive.exchange.reading import MAX_ROWS, open_rows, read_rows
from archive.exchange.xlsx_sheet import scan_sheet, sheet_parts

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _refused(path: Path, reason: str) -> str:
    with pytest.raises(ImportRefusedError) as caught:
        list(read_rows(path))
    assert caught.value.detail["reason"] == reason, caught.value.message
    return caught.value.message


def _workbook(path: Path, rows: list[list[object]], *, title: bool = True) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "说明"
    data = book.create_sheet("客户资料")  # not the first sheet: chosen by its name
    if title:
        data.append(["客户资料导入（2026年）"])
        data.merge_cells(start_row=1, start_column=1, end_row=1, end_column=6)
    for row in rows:
        data.append(row)
    book.save(path)
    return path


def test_calamine_reads_the_template_tolerances_and_dates_as_typed(tmp_path):
    header = ["内部备用", "成立时间", "最近服务时间", "联系方式", "客户类型", "地址", "客户名称"]
    row = ["x", datetime(2015, 3, 12), 43000, 13800138000, "企业客户", "=A1&B1", "甲公司"]
    text = ["", "2015-03-12", "2020-05-01", "13800138001", "企业客户", "北京", "乙公司"]
    path = _workbook(tmp_path / "t.xlsx", [header, row, text])
    total, rows = open_rows(path)
    assert rows.__name__ == "_calamine_rows"  # type: ignore[attr-defined]
    first, second = list(rows)
    assert total == 3 and (first.number, second.number) == (3, 4)
    assert first.values["established_date"] in (date(2015, 3, 12), datetime(2015, 3, 12))
    assert first.values["last_service_date"] == 43000  # an Excel serial, refused on import
    assert first.values["phone"] == 13800138000 and first.values["name"] == "甲公司"
    assert first.formulas == {"address"} and second.formulas == set()
    assert second.values["established_date"] == "2015-03-12" and "notes" not in second.values


def _sheet_xml(rows: int, formula_every: int) -> bytes:
    cells = []
    for r in range(1, rows + 1):
        body = f'<c r="B{r}" t="str"><f>A{r}&amp;"x"</f><v>1</v></c>' if r % formula_every == 0 \
            else f'<c r="B{r}" t="inlineStr"><is><t>值{r}</t></is></c>'  # fmt: skip
        cells.append(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c>{body}</row>')
    xml = f'<worksheet xmlns="{_MAIN}"><sheetData>{"".join(cells)}</sheetData></worksheet>'
    return xml.encode()


_WORKBOOK = (f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
             '<sheet name="客户资料" sheetId="1" r:id="rId1"/></sheets></workbook>')  # fmt: skip
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_RELS = (f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
         'Target="worksheets/sheet1.xml" Type="x"/></Relationships>')  # fmt: skip


def _parts(z: zipfile.ZipFile, sheet: bytes, workbook: str = _WORKBOOK) -> None:
    z.writestr("xl/workbook.xml", workbook)
    z.writestr("xl/_rels/workbook.xml.rels", _RELS)
    z.writestr("xl/worksheets/sheet1.xml", sheet)


def test_the_scan_finds_every_formula_cell_across_its_chunks(tmp_path):
    path = tmp_path / "scan.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        _parts(z, _sheet_xml(40_000, 3))  # about 3 MB: formulas cut by the 1 MiB chunks
    with zipfile.ZipFile(path) as z:
        assert sheet_parts(z) == [("客户资料", "xl/worksheets/sheet1.xml")]
        scan = scan_sheet(z, "客户资料", "xl/worksheets/sheet1.xml")
    assert scan.rows == 40_000
    assert scan.formulas == {r: {1} for r in range(3, 40_001, 3)}


def _rewrite(source: Path, path: Path, change: Callable[[bytes], bytes]) -> None:
    """``source`` with its customer sheet's XML changed."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as z:
        for name in src.namelist():
            data = src.read(name)
            z.writestr(name, change(data) if name == "xl/worksheets/sheet2.xml" else data)


def test_hostile_workbooks_are_refused(tmp_path):
    locked = tmp_path / "locked.xlsx"  # an encrypted workbook is an OLE container
    locked.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096)
    assert "加密" in _refused(locked, "encrypted")
    bomb = tmp_path / "bomb.xlsx"  # refused before anything is unpacked
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        _parts(z, b"<worksheet>" + b" " * (64 * 1024 * 1024) + b"</worksheet>")
    assert "压缩炸弹" in _refused(bomb, "zip_bomb")
    laughs = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    source = _workbook(tmp_path / "ok.xlsx", [["客户名称", "客户类型"], ["甲", "企业客户"]])
    assert list(read_rows(source))[0].values["name"] == "甲"
    entity = tmp_path / "entity.xlsx"  # an entity bomb in the sheet: calamine does not expand
    _rewrite(source, entity, lambda data: laughs.encode() + data.replace(b"&#30002;", b"&b;"))
    _refused(entity, "corrupt")
    broken = tmp_path / "broken.xlsx"  # the sheet's XML cut short
    _rewrite(source, broken, lambda data: data[: data.index(b"<sheetData>") + 40])
    _refused(broken, "corrupt")
    book = tmp_path / "book-entity.xlsx"  # in the workbook part: defusedxml refuses
    with zipfile.ZipFile(book, "w") as z:
        _parts(z, _sheet_xml(3, 2), workbook=laughs + "<workbook>&b;</workbook>")
    _refused(book, "corrupt")


def test_a_sheet_over_the_limit_is_streamed_and_refused(tmp_path):
    """More rows than an import takes: read by openpyxl (streamed, calamine would hold the whole
    sheet) and refused once the limit is passed."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("客户资料")
    sheet.append(["客户名称", "客户类型"])
    for n in range(MAX_ROWS + 30):
        sheet.append([f"客户{n}", "企业客户"])
    path = tmp_path / "huge.xlsx"
    book.save(path)
    _, rows = open_rows(path)
    assert rows.__name__ == "_sheet_rows"  # type: ignore[attr-defined]
    with pytest.raises(ImportRefusedError, match="上限"):
        list(rows)
