"""Read a workbook's customer sheet with calamine (Rust): values fast, formulas found by a scan.

calamine gives a formula cell's cached value (or nothing), never the formula, so before the
sheet is read its XML is streamed once (:func:`scan_sheet`): the ``<row>`` elements are counted
(a sheet over the import's limit is left to the streaming openpyxl reader, whose memory does not
grow with the sheet) and the cells holding a formula (``<f>``) are located by their reference,
so that the import can refuse those cells as it did with openpyxl. The caller checks the ZIP
(size, ratio) before anything here unpacks it.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

_ROW = re.compile(rb"<(?:\w+:)?row[\s>/]")
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c\s[^>]*>")
_REF = re.compile(rb"""\sr=["']([A-Z]{1,3})([0-9]{1,7})["']""")
_CHUNK = 1 << 20
_OVERLAP = 4096  # bytes kept from one chunk to the next: a cell's tag and its formula's start


@dataclass
class SheetScan:
    """The chosen sheet: its name, its part in the ZIP, how many ``<row>`` elements it has and
    where its formulas are (row number -> 0-based columns); ``formulas`` None: a formula cell
    without a reference (its place is unknown)."""

    name: str
    member: str
    rows: int = 0
    formulas: dict[int, set[int]] | None = field(default_factory=dict)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(element: Any, local: str) -> str | None:
    return next((v for k, v in element.attrib.items() if _local(k) == local), None)


def sheet_parts(z: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, ZIP member of its XML) of every worksheet, in workbook order."""
    book = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels if _local(r.tag) == "Relationship"}
    out = []
    for sheet in book.iter():
        if _local(sheet.tag) != "sheet":
            continue
        target = targets.get(_attr(sheet, "id"))
        if not target:
            continue
        member = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        out.append((sheet.get("name", ""), posixpath.normpath(member)))
    return out


def _column(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n - 1


def _formula_cell(buf: bytes, at: int) -> tuple[int, int] | None:
    """(row number, 0-based column) of the cell whose formula starts at ``buf[at]``."""
    tags = list(_CELL_TAG.finditer(buf, max(at - _OVERLAP, 0), at))
    ref = _REF.search(tags[-1].group(0)) if tags else None
    return (int(ref.group(2)), _column(ref.group(1))) if ref else None


def _matches(pattern: re.Pattern[bytes], buf: bytes, start: int, cut: int) -> Iterator[int]:
    for m in pattern.finditer(buf, start):
        if m.start() >= cut:
            return
        yield m.start()


def scan_sheet(z: zipfile.ZipFile, name: str, member: str) -> SheetScan:
    """Count the sheet's rows and locate its formula cells, streaming its XML once."""
    scan = SheetScan(name, member)
    formulas: dict[int, set[int]] = {}
    with z.open(member) as f:
        buf, start = b"", 0  # matches before ``start`` were taken from the previous chunk
        while True:
            chunk = f.read(_CHUNK)
            buf += chunk
            cut = len(buf) if not chunk else max(len(buf) - _OVERLAP, start)
            scan.rows += sum(1 for _ in _matches(_ROW, buf, start, cut))
            for at in _matches(_FORMULA, buf, start, cut):
                cell = _formula_cell(buf, at)
                if cell is None:
                    scan.formulas = None
                    return scan
                formulas.setdefault(cell[0], set()).add(cell[1])
            if not chunk:
                break
            keep = max(cut - _OVERLAP, 0)  # a formula's cell tag comes just before it
            buf, start = buf[keep:], cut - keep
    scan.formulas = formulas
    return scan


def calamine_rows(path: Path, scan: SheetScan) -> Iterator[tuple[int, list[Any], set[int]]]:
    """(row number, cell values, columns holding a formula) of every row of the sheet.

    Raises:
        python_calamine.CalamineError (and its kin): A workbook calamine cannot read.
    """
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    try:
        sheet = book.get_sheet_by_name(scan.name)
        first_row, first_col = sheet.start or (0, 0)
        formulas = scan.formulas or {}
        for i, cells in enumerate(sheet.iter_rows()):
            number = first_row + i + 1
            cols = {c - first_col for c in formulas.get(number, ())}
            yield number, [None if c == "" else c for c in cells], cols  # blank as openpyxl
    finally:
        book.close()
