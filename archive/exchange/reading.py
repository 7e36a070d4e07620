"""Read a customer spreadsheet (XLSX or CSV) as numbered rows of template fields.

Refused as a whole, with a Chinese message (:class:`ImportRefusedError`): an empty file, an
encrypted workbook (an OLE container), a ZIP whose contents would unpack to far more than the
file (a zip bomb renamed .xlsx), a workbook without a sheet holding the template's header, more
than :data:`MAX_ROWS` rows. CSV encodings: UTF-8 (with or without BOM), else GB18030 (which
covers GBK). A workbook is read by calamine (:mod:`archive.exchange.xlsx_sheet`, formulas located
by a scan of the sheet's XML), by openpyxl when the sheet is too big for calamine's whole-sheet
memory. The header may sit below merged title rows, in any order, with extra columns.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.errors import ImportRefusedError
from archive.exchange.columns import header_field
from archive.exchange.xlsx_sheet import SheetScan, calamine_rows, scan_sheet, sheet_parts

MAX_ROWS = 100_000
MAX_UNPACKED = 512 * 1024 * 1024  # bytes a workbook may unpack to
MAX_RATIO = 200  # unpacked / packed, per member larger than 1 MiB
HEADER_SEARCH = 20  # rows searched for the header
REQUIRED_HEADERS = ("name", "customer_type")
SHEET_NAMES = ("客户资料", "客户", "customers")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class Row:
    """One data row: its number in the file, field -> raw value, fields holding a formula."""

    number: int
    values: dict[str, Any]
    formulas: set[str] = field(default_factory=set)


def _refuse(message: str, reason: str) -> ImportRefusedError:
    return ImportRefusedError(message, reason=reason)


def _header_map(cells: list[Any]) -> dict[int, str] | None:
    """Column index -> field when ``cells`` look like the header row, else None."""
    found: dict[int, str] = {}
    for i, cell in enumerate(cells):
        name = header_field(cell)
        if name is None:
            continue
        if name in found.values():
            raise _refuse(f"表头重复：“{cell}”出现不止一次", "duplicate_header")
        found[i] = name
    if all(r in found.values() for r in REQUIRED_HEADERS):
        return found
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rows(raw: Iterator[tuple[int, list[Any], set[int]]], where: str) -> Iterator[Row]:
    """Find the header in the first rows, then yield the non-blank rows after it."""
    header: dict[int, str] | None = None
    count = 0
    for number, cells, formula_cols in raw:
        if header is None:
            header = _header_map(cells)
            if header is None and number >= HEADER_SEARCH:
                break
            continue
        if all(_blank(c) for c in cells):
            continue
        count += 1
        if count > MAX_ROWS:
            raise _refuse(f"行数超过上限 {MAX_ROWS:,} 行：请拆分文件后分批导入", "too_many_rows")
        values = {name: cells[i] if i < len(cells) else None for i, name in header.items()}
        formulas = {header[i] for i in formula_cols if i in header}
        yield Row(number=number, values=values, formulas=formulas)
    if header is None:
        raise _refuse(
            f"{where}未找到表头：前 {HEADER_SEARCH} 行中没有同时含“客户名称”“客户类型”的行"
            "（请使用导入模板）",
            "no_header",
        )


# --- XLSX -------------------------------------------------------------------------------------


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
    except zipfile.BadZipFile as e:
        raise _refuse("文件不是有效的 XLSX 工作簿（无法解压）", "corrupt") from e
    total = 0
    for m in members:
        total += m.file_size
        big = m.file_size > 1024 * 1024
        if total > MAX_UNPACKED or (big and m.file_size > MAX_RATIO * max(m.compress_size, 1)):
            raise _refuse(f"文件解压后异常巨大（{m.filename}），疑似压缩炸弹，已拒绝", "zip_bomb")


def _scan(path: Path) -> SheetScan:
    """The customer sheet (by :data:`SHEET_NAMES`, else the first) scanned for rows and formulas."""
    _check_zip(path)
    try:
        with zipfile.ZipFile(path) as z:
            parts = sheet_parts(z)
            names = [name for name, _ in parts]
            chosen = next((n for n in SHEET_NAMES if n in names), names[0] if names else None)
            if chosen is None:
                raise _refuse("工作簿中没有工作表", "empty")
            return scan_sheet(z, chosen, dict(parts)[chosen])
    except ImportRefusedError:
        raise
    except Exception as e:  # noqa: BLE001  (missing parts, broken XML, entity declarations)
        raise _refuse(f"无法读取 XLSX 工作簿：{type(e).__name__}", "corrupt") from e


def _calamine_rows(path: Path, scan: SheetScan) -> Iterator[Row]:
    try:
        yield from _rows(calamine_rows(path, scan), f"工作表“{scan.name}”")
    except ImportRefusedError:
        raise
    except Exception as e:  # noqa: BLE001  (calamine: broken sheet XML, password, ...)
        raise _refuse(f"无法读取 XLSX 工作表：{type(e).__name__}", "corrupt") from e


def _xlsx(path: Path) -> tuple[int, Iterator[Row]]:
    """About how many rows the sheet has, and its rows: read by calamine; by openpyxl (streamed,
    slower) when the sheet has more rows than an import takes (calamine holds a whole sheet in
    memory) or a formula whose cell is not named."""
    scan = _scan(path)
    if scan.formulas is None or scan.rows > MAX_ROWS + HEADER_SEARCH:
        book, sheet, chosen = _open_sheet(path)
        return max((sheet.max_row or 1) - 1, 0), _sheet_rows(book, sheet, chosen)
    return max(scan.rows - 1, 0), _calamine_rows(path, scan)


def _open_sheet(path: Path) -> tuple[Any, Any, str]:
    """The workbook (openpyxl, read-only), its customer sheet and that sheet's name."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception as e:  # noqa: BLE001  (any parser failure is "not a workbook we can read")
        raise _refuse(f"无法读取 XLSX 工作簿：{type(e).__name__}", "corrupt") from e
    names = book.sheetnames
    chosen = next((n for n in SHEET_NAMES if n in names), names[0] if names else None)
    if chosen is None:
        book.close()
        raise _refuse("工作簿中没有工作表", "empty")
    return book, book[chosen], chosen


def _sheet_rows(book: Any, sheet: Any, chosen: str) -> Iterator[Row]:
    try:

        def raw() -> Iterator[tuple[int, list[Any], set[int]]]:
            for number, cells in enumerate(sheet.iter_rows(), start=1):
                values = [c.value for c in cells]
                formulas = {i for i, c in enumerate(cells) if getattr(c, "data_type", None) == "f"}
                yield number, values, formulas

        yield from _rows(raw(), f"工作表“{chosen}”")
    except ImportRefusedError:
        raise
    except Exception as e:  # noqa: BLE001  (XML entity bombs, broken sheet XML, ...)
        raise _refuse(f"无法读取 XLSX 工作表：{type(e).__name__}", "corrupt") from e
    finally:
        book.close()


# --- CSV --------------------------------------------------------------------------------------


def _csv_encoding(path: Path) -> str:
    with path.open("rb") as f:
        if f.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def _csv_rows(path: Path) -> Iterator[Row]:
    encoding = _csv_encoding(path)
    try:
        with path.open(encoding=encoding, newline="") as f:
            reader = csv.reader(f)

            def raw() -> Iterator[tuple[int, list[Any], set[int]]]:
                for cells in reader:
                    formulas = {i for i, c in enumerate(cells) if c.lstrip().startswith("=")}
                    yield reader.line_num, list(cells), formulas

            yield from _rows(raw(), "CSV 文件")
    except UnicodeDecodeError as e:
        raise _refuse("CSV 编码无法识别（支持 UTF-8、UTF-8 BOM、GB18030/GBK）", "encoding") from e
    except csv.Error as e:
        raise _refuse(f"CSV 格式错误：{e}", "corrupt") from e


def _kind(path: Path) -> str:
    """ "xlsx" or "csv" by content, refusing a missing, empty, encrypted or fake workbook."""
    if not path.is_file():
        raise _refuse(f"文件不存在：{path.name}", "not_found")
    with path.open("rb") as f:
        head = f.read(8)
    if not head:
        raise _refuse("文件为空", "empty")
    if head == _OLE:
        raise _refuse(
            "工作簿已加密或为旧版 XLS 格式：请解除密码并另存为 XLSX 后再导入", "encrypted"
        )
    if head.startswith(b"PK"):
        return "xlsx"
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise _refuse("文件扩展名为 XLSX，但内容不是 XLSX 工作簿", "corrupt")
    return "csv"


def read_rows(path: Path) -> Iterator[Row]:
    """The data rows of ``path`` (by content: a ZIP is XLSX, otherwise CSV).

    Raises:
        ImportRefusedError: The file as a whole cannot be imported (see the module docstring).
    """
    path = Path(path)
    return _xlsx(path)[1] if _kind(path) == "xlsx" else _csv_rows(path)


def open_rows(path: Path) -> tuple[int, Iterator[Row]]:
    """The data rows of ``path`` and about how many there are, without reading a workbook twice.

    A CSV is counted exactly by a quick first pass (so one over :data:`MAX_ROWS` is refused
    before any row is used); for an XLSX the count is the sheet's size as the workbook states it
    (header and blank rows included: a few too many at most). A workbook over the limit is
    refused while its rows are read.

    Raises:
        ImportRefusedError: As :func:`read_rows`.
    """
    path = Path(path)
    if _kind(path) == "csv":
        return sum(1 for _ in _csv_rows(path)), _csv_rows(path)
    return _xlsx(path)
