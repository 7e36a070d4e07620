"""The import template (XLSX with dropdowns) and the file of rejected rows.

The template has the standard's columns with Chinese headers (required ones marked *), a
dropdown for every option list of the taxonomy, and a sheet of notes. A rejected-rows file has
the same columns plus 错误; once fixed it imports like the template.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from archive.exchange.columns import COLUMNS, HEADERS, cell_text
from archive.exchange.export import SHEET_TITLE
from archive.exchange.importing import Rejection
from config.taxonomy import Taxonomy

ERROR_HEADER = "错误"
REQUIRED = frozenset({"name", "customer_type"})
NOTES = (
    "带 * 的列必填；企业客户还须填写统一社会信用代码、法定代表人、成立时间、地址；"
    "个人客户须填写证件号码。",
    "意向、成交、流失客户还须填写联系人、联系方式、所属行业、客户等级、负责人。",
    "日期填写 YYYY-MM-DD；多选（决策链角色、参与活动）用顿号“、”分隔；负责人填用户名。",
    "客户编号留空表示新客户；已有客户按客户编号、统一社会信用代码或证件号码匹配并更新。",
    "不要使用公式；单元格请粘贴为数值。",
)


def _options(taxonomy: Taxonomy) -> dict[str, tuple[str, ...]]:
    opts = {name: tuple(values) for name, values in taxonomy.options.items()}
    return {
        "customer_type": tuple(ct.label for ct in taxonomy.customer_types),
        "status": tuple(taxonomy.customer_statuses.values()),
        "industry": opts.get("industry", ()),
        "scale": opts.get("scale", ()),
        "region": opts.get("region", ()),
        "level": opts.get("level", ()),
        "source_channel": opts.get("source_channel", ()),
        "follow_up_status": opts.get("follow_up", ()),
        "complaint_type": opts.get("complaint_type", ()),
    }


def write_template(path: Path, taxonomy: Taxonomy, *, rows: int = 5000) -> None:
    """Write the import template: headers, dropdowns for ``rows`` rows, a notes sheet."""
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_TITLE
    sheet.append([h + ("*" if f in REQUIRED else "") for f, h in COLUMNS])
    lists = book.create_sheet("选项")
    for i, (name, values) in enumerate(_options(taxonomy).items(), start=1):
        if not values:
            continue
        letter = get_column_letter(i)
        lists.cell(row=1, column=i, value=dict(COLUMNS)[name])
        for r, v in enumerate(values, start=2):
            lists.cell(row=r, column=i, value=v)
        target = get_column_letter([f for f, _ in COLUMNS].index(name) + 1)
        rule = DataValidation(
            type="list", formula1=f"=选项!${letter}$2:${letter}${len(values) + 1}",
            allow_blank=True, showErrorMessage=True, errorTitle="选项无效",
            error="请从下拉列表中选择",
        )  # fmt: skip
        rule.add(f"{target}2:{target}{rows + 1}")
        sheet.add_data_validation(rule)
    for i, (_, header) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(12, 2 * len(header) + 4)
        sheet.cell(row=1, column=i).number_format = "@"
    notes = book.create_sheet("说明")
    for line in NOTES:
        notes.append([line])
    book.save(path)


def write_rejects(path: Path, rejected: Iterable[Rejection]) -> int:
    """Write the rejected rows (their cells plus 错误) to ``path`` (.xlsx or .csv)."""
    fields = [f for f, _ in COLUMNS]
    rows = [
        [cell_text(r.values.get(f)) for f in fields]
        + [f"第{r.row}行 {r.column}：{r.message}（{r.rule}）"]
        for r in rejected
    ]
    header = [*HEADERS, ERROR_HEADER]
    if Path(path).suffix.lower() == ".xlsx":
        book = Workbook(write_only=True)
        sheet = book.create_sheet(SHEET_TITLE)
        for row in [header, *rows]:
            cells = []
            for v in row:
                cell = WriteOnlyCell(sheet, value=v or None)
                if v:
                    cell.data_type = "s"
                cells.append(cell)
            sheet.append(cells)
        book.save(path)
    else:
        with Path(path).open("w", encoding="utf-8-sig", newline="") as f:
            csv.writer(f).writerows([header, *rows])
    return len(rows)
