"""Export a customer list (any list filter) to XLSX or CSV, masked unless an admin asks.

Phone, ID number and e-mail are masked by default (138****5678, 110105********002X,
z***@example.com); full values only for an administrator who asks explicitly. Every export is
an audit event: who, which filter, how many rows, masked or not. Rows are read a page at a time
and the XLSX is written in openpyxl's write-only mode, so memory stays bounded.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from archive.customer_query import CustomerFilter, list_customers
from archive.exchange.columns import HEADERS, customer_row
from archive.permissions import PermissionDeniedError
from config.settings import Settings

if TYPE_CHECKING:
    from openpyxl.cell import WriteOnlyCell
from models import repo
from models.customer import Customer
from models.user import Role, User

FORMATS = ("xlsx", "csv")
PAGE = 1000
SHEET_TITLE = "客户资料"
FORMULA_STARTS = ("=", "+", "-", "@")


def require_full_export(actor: User) -> None:
    """Full phone, ID number and e-mail in an export: administrators only."""
    if actor.role != Role.ADMIN.value:
        raise PermissionDeniedError(
            "没有权限：仅管理员可导出完整联系方式、证件号码与电子邮箱",
            action="export_full",
            username=actor.username,
        )


def _owners(session: Session) -> dict[int, str]:
    from models.user import User as UserRow

    return {u.id: u.username for u in session.exec(select(UserRow)).all() if u.id is not None}


def iter_customers(
    session: Session, actor: User, filters: CustomerFilter, settings: Settings | None = None
) -> Iterator[Customer]:
    """Every customer of the list, a page at a time (sorted by code); ``settings`` give the
    taxonomy and warning days of the ``complete``/``expiring`` filters, as the list uses."""
    extra: dict[str, Any] = {}
    if settings is not None:
        extra = {"taxonomy": settings.taxonomy, "warning_days": settings.expiry_warning_days}
    offset = 0
    while True:
        rows, _ = list_customers(
            session, actor, filters, sort="code", limit=PAGE, offset=offset, **extra
        )
        yield from rows
        if len(rows) < PAGE:
            return
        offset += PAGE
        session.expunge_all()


def _text_cell(sheet: Any, text: str) -> WriteOnlyCell:
    from openpyxl.cell import WriteOnlyCell  # openpyxl (and numpy) only when writing XLSX

    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


def _write_xlsx(path: Path, rows: Iterator[list[str]]) -> int:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET_TITLE)
    sheet.append([_text_cell(sheet, h) for h in HEADERS])
    count = 0
    for row in rows:
        sheet.append([_text_cell(sheet, v) if v else None for v in row])
        count += 1
    book.save(path)
    return count


def csv_safe(text: str) -> str:
    """A cell Excel would run as a formula (= + - @ first) gets a leading ' (shown as text)."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _write_csv(path: Path, rows: Iterator[list[str]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel reads it as UTF-8
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        for row in rows:
            writer.writerow([csv_safe(v) for v in row])
            count += 1
    return count


def export_customers(
    session: Session,
    settings: Settings,
    actor: User,
    filters: CustomerFilter,
    *,
    fmt: str,
    output: Path,
    full: bool = False,
) -> dict[str, Any]:
    """Write the customers ``actor`` may see that match ``filters`` to ``output``; audit it.

    Returns:
        ``{"file", "format", "rows", "masked"}``.

    Raises:
        ValidationError: ``fmt`` is not xlsx or csv.
        PermissionDeniedError: ``full`` asked by someone who is not an administrator.
    """
    if fmt not in FORMATS:
        raise repo.ValidationError(
            f"导出格式：不支持“{fmt}”，可选：xlsx、csv", field="format", reason="option_unknown"
        )
    if full:
        require_full_export(actor)
    owners = _owners(session)
    rows = (
        customer_row(c, taxonomy=settings.taxonomy, owners=owners, masked=not full)
        for c in iter_customers(session, actor, filters, settings)
    )
    output = Path(output)
    partial = output.with_name(f".{output.name}.part")
    try:
        count = (_write_xlsx if fmt == "xlsx" else _write_csv)(partial, rows)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    unset = dataclasses.asdict(CustomerFilter())  # the defaults: "any"
    shown = {k: v for k, v in dataclasses.asdict(filters).items() if v != unset[k]}
    summary = {"file": str(output), "format": fmt, "rows": count, "masked": not full}
    repo.add_audit_event(
        session,
        actor=actor.username,
        action="customer.export",
        entity_type="customer",
        entity_id="*",
        after={"filter": shown, "format": fmt, "rows": count, "masked": not full},
        detail=f"导出客户 {count} 行（{'已脱敏' if not full else '完整联系方式与证件号码'}）",
    )
    return summary
