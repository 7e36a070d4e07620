"""Import customers from a spreadsheet with the editor's rules, all or nothing by default.

Every row goes through the same functions as the editor (:func:`archive.customers.create_customer`
and :func:`~archive.customers.edit_customer`) inside a savepoint, so a row is judged exactly as a
person typing it would be. A row matches an existing customer by customer code, USCC or ID
number; a matched row with no difference changes nothing (re-importing a file is a no-op) and a
different one is an edit, audited with before/after by the repository. A blank cell leaves the
stored value alone.

Rejected rows are reported with their row number, column and rule. By default one rejected row
rolls the whole import back; with ``partial`` the valid rows are kept and the rejected ones can
be written, with an error column, to a file that is fixed and imported again.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, select

from archive import customers
from archive.errors import ImportRefusedError
from archive.exchange.columns import CODE_FIELDS, DATE_FIELDS, HEADER_BY_FIELD
from archive.exchange.reading import Row, read_rows
from archive.permissions import can_view_customer
from config.errors import DossierError
from config.settings import Settings
from models import repo
from models.customer import Customer, validate_customer_values
from models.user import User
from models.user import User as UserRow

IDENTIFIERS = ("code", "uscc", "id_number")
FLUSH_EVERY = 500  # rows between releasing loaded customers from the session


class Rejected(Exception):  # noqa: N818  (internal signal, never leaves this module)
    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule, self.message = field, rule, message


@dataclass
class Rejection:
    """A rejected row: its number in the file, the column, the rule and a Chinese message."""

    row: int
    column: str
    field: str
    rule: str
    message: str
    values: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "field": self.field,
                "rule": self.rule, "message": self.message}  # fmt: skip


@dataclass
class ImportReport:
    """What an import did (``committed`` False: nothing was written)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    committed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "committed": self.committed,
                "rejected": [r.as_dict() for r in self.rejected]}  # fmt: skip


# --- cells to editor values -------------------------------------------------------------------


def _cell(name: str, value: Any) -> Any:
    """A raw cell as the editor would receive it (None when blank)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        if name in DATE_FIELDS:
            raise Rejected(
                name,
                "excel_serial",
                f"{HEADER_BY_FIELD[name]}是数字（Excel 日期序列号），请填写YYYY-MM-DD",
            )
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value)
    text = unicodedata.normalize("NFC", str(value)).strip()
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        text = text[1:]  # an export's guard against formula injection
    if not text:
        return None
    if name in CODE_FIELDS:
        text = "".join(unicodedata.normalize("NFKC", text).split())
        text = text.lower() if name == "email" else text.upper()
    return text


def row_values(row: Row, owners: dict[str, int]) -> dict[str, Any]:
    """The row's non-blank values as editor input (``owner`` becomes ``owner_id``)."""
    if row.formulas:
        name = sorted(row.formulas)[0]
        raise Rejected(name, "formula", "单元格含公式，请粘贴为数值后再导入")
    out: dict[str, Any] = {}
    for name, raw in row.values.items():
        value = _cell(name, raw)
        if value is None:
            continue
        if name == "owner":
            if value not in owners:
                raise Rejected("owner", "owner_unknown", f"负责人用户“{value}”不存在")
            out["owner_id"] = owners[value]
        else:
            out[name] = value
    return out


# --- matching ---------------------------------------------------------------------------------


def _match(session: Session, actor: User, values: dict[str, Any]) -> Customer | None:
    """The existing customer the row names by code, USCC or ID number (at most one)."""
    found: dict[int, tuple[str, Customer]] = {}
    code = values.get("code")
    if code:
        by_code = repo.get_customer(session, code=code)
        if by_code is None:
            raise Rejected("code", "code_unknown", f"客户编号 {code} 不存在（新客户请留空）")
        found[by_code.id] = ("code", by_code)  # type: ignore[index]
    for name in ("uscc", "id_number"):
        if values.get(name):
            for c in repo.find_customers(session, **{name: values[name]}):
                found.setdefault(c.id, (name, c))  # type: ignore[arg-type]
    if len(found) > 1:
        (_, first), (name, other) = list(found.values())[:2]
        what = f"{HEADER_BY_FIELD[name]}已属于另一客户 {other.code}（与 {first.code} 冲突）"
        raise Rejected(name, "identifier_taken", what)
    if not found:
        return None
    name, customer = next(iter(found.values()))
    if not can_view_customer(actor, customer):
        raise Rejected(name, "identifier_taken", f"{HEADER_BY_FIELD[name]}已属于其他负责人的客户")
    return customer


def _current(customer: Customer) -> dict[str, Any]:
    names = [f for f in HEADER_BY_FIELD if f not in ("code", "owner")]
    return {f: getattr(customer, f) for f in names} | {"owner_id": customer.owner_id}


def _changes(settings: Settings, customer: Customer, values: dict[str, Any]) -> dict[str, Any]:
    """The fields the row changes, checked with the editor's rules on the merged record."""
    given = {k: v for k, v in values.items() if k != "code"}
    labels = {ct.label: ct.code for ct in settings.taxonomy.customer_types}
    kind = given.get("customer_type")
    if kind is not None and labels.get(kind, kind) != customer.customer_type:
        what = "客户类型不能通过导入修改（请在编辑页处理）"
        raise Rejected("customer_type", "not_editable", what)
    merged, _ = validate_customer_values(_current(customer) | given, taxonomy=settings.taxonomy)
    return {k: given[k] for k in given if merged.get(k) != getattr(customer, k)}


# --- one row, the whole file ------------------------------------------------------------------


def _apply(session: Session, settings: Settings, actor: User, values: dict[str, Any]) -> str:
    """Create, update or leave one customer; returns "created", "updated" or "unchanged"."""
    customer = _match(session, actor, values)
    if customer is None:
        values = {k: v for k, v in values.items() if k != "code"}
        with session.begin_nested():
            customers.create_customer(session, settings, actor, values, look_for_similar=False)
        return "created"
    changes = _changes(settings, customer, values)
    if not changes:
        return "unchanged"
    with session.begin_nested():
        customers.edit_customer(
            session, settings, actor, customer.code, changes, version=customer.version
        )
    return "updated"


def _seen_check(values: dict[str, Any], number: int, seen: dict[tuple[str, str], int]) -> None:
    keys = [(n, str(values[n])) for n in IDENTIFIERS if values.get(n)]
    for key in keys:
        if key in seen:
            raise Rejected(key[0], "duplicate_row",
                           f"{HEADER_BY_FIELD[key[0]]}与第 {seen[key]} 行重复")  # fmt: skip
    for key in keys:
        seen[key] = number


def _reject(row: Row, field_name: str, rule: str, message: str) -> Rejection:
    column = HEADER_BY_FIELD.get(field_name.removesuffix("_id"), field_name)
    return Rejection(row.number, column, field_name, rule, message, values=dict(row.values))


def _one_row(ctx: tuple[Session, Settings, User], row: Row, owners: dict[str, int],
             seen: dict[tuple[str, str], int]) -> str | Rejection:  # fmt: skip
    session, settings, actor = ctx
    try:
        values = row_values(row, owners)
        _seen_check(values, row.number, seen)
        return _apply(session, settings, actor, values)
    except Rejected as e:
        return _reject(row, e.field, e.rule, e.message)
    except DossierError as e:
        detail = e.detail
        name = str(detail.get("field") or "")
        return _reject(row, name, str(detail.get("reason") or e.code), e.message)
    except PydanticValidationError as e:  # a value the input models refuse outright
        first = e.errors()[0] if e.errors() else {}
        name = ".".join(str(x) for x in first.get("loc", ()))
        return _reject(row, name, "invalid", f"{name}：{first.get('msg', '无效')}")


def import_rows(
    session: Session,
    settings: Settings,
    actor: User,
    rows: Iterable[Row],
    *,
    partial: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``rows`` as ``actor``; commit unless a row is rejected and ``partial`` is False.

    Raises:
        ImportRefusedError: The file as a whole is refused (raised while reading ``rows``).
    """
    owners = {u.username: u.id for u in session.exec(select(UserRow)).all()}
    report, seen = ImportReport(), {}
    for row in rows:
        report.rows += 1
        outcome = _one_row((session, settings, actor), row, owners, seen)
        if isinstance(outcome, Rejection):
            report.rejected.append(outcome)
        else:
            setattr(report, outcome, getattr(report, outcome) + 1)
        if report.rows % FLUSH_EVERY == 0:
            session.flush()
            session.expunge_all()
            if progress:
                progress(report.rows)
    if report.rejected and not partial:
        session.rollback()
        return report
    repo.add_audit_event(
        session, actor=actor.username, action="customer.import", entity_type="customer",
        entity_id="*", after=report.as_dict() | {"rejected": len(report.rejected)},
        detail=f"导入客户：新增 {report.created}，更新 {report.updated}，"
        f"拒绝 {len(report.rejected)}",
    )  # fmt: skip
    session.commit()
    report.committed = True
    return report


def import_file(
    session: Session,
    settings: Settings,
    actor: User,
    path: Path,
    *,
    partial: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import the XLSX or CSV ``path``: a first pass reads it all (refusing a bad file before
    anything is written and counting rows), the second imports it row by row.

    ``progress(done, total)`` is called every few hundred rows.

    Raises:
        ImportRefusedError: Empty, encrypted, a zip bomb, no header, too many rows, ...
    """
    total = sum(1 for _ in read_rows(path))
    if total == 0:
        raise ImportRefusedError("文件中没有数据行（只有表头）", reason="empty")
    report = import_rows(
        session,
        settings,
        actor,
        read_rows(path),
        partial=partial,
        progress=(lambda done: progress(done, total)) if progress else None,
    )
    if progress:
        progress(total, total)
    return report
