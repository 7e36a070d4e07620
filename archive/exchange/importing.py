"""Import customers from a spreadsheet with the editor's rules, all or nothing by default.

Every row is judged with the editor's own rules: a new customer's values by
:func:`archive.customers.prepare_customer` (what :func:`~archive.customers.create_customer`
checks), an edit by :func:`~archive.customers.plan_edit` (what
:func:`~archive.customers.edit_customer` checks, once). A row matches
an existing customer by customer code, USCC or ID number; a matched row with no difference
changes nothing (re-importing a file is a no-op) and a different one is an edit, audited with
before/after by the repository. A blank cell leaves the stored value alone.

Rows are streamed :data:`BATCH` at a time: one query finds every customer a batch names, and the
batch's new customers are written together (:func:`archive.customers.create_customers`: one
counter step for their codes, batched inserts, a ``customer.create`` audit event each), and so
are its edits (:func:`archive.customers.edit_customers`: the version each was loaded at checked
by its UPDATE, derived fields as the editor sets them, before/after audit events in one insert),
so a 100,000-row file imports in bounded memory at thousands of rows a second
(docs/benchmarks.md).

Rejected rows are reported with their row number, column and rule. By default one rejected row
rolls the whole import back; with ``partial`` the valid rows are kept and the rejected ones can
be written, with an error column, to a file that is fixed and imported again.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, select

from archive import customers
from archive.errors import ImportRefusedError
from archive.exchange.columns import CODE_FIELDS, DATE_FIELDS, HEADER_BY_FIELD
from archive.exchange.reading import Row, open_rows
from archive.permissions import can_view_customer
from config.errors import DossierError
from config.settings import Settings
from config.taxonomy import Taxonomy
from models import repo
from models.customer import Customer, CustomerCreate
from models.user import User
from models.user import User as UserRow

IDENTIFIERS = ("code", "uscc", "id_number")
BATCH = 500  # rows judged, looked up and written together


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


Index = dict[tuple[str, str], Customer]


def _lookup(session: Session, batch: list[tuple[Row, dict[str, Any]]]) -> Index:
    """The existing customers a batch of rows names, by (identifier, value), in one query."""
    wanted: dict[str, set[str]] = {name: set() for name in IDENTIFIERS}
    for _, values in batch:
        for name in IDENTIFIERS:
            if values.get(name):
                wanted[name].add(str(values[name]))
    found = repo.customers_by_identifiers(
        session, codes=wanted["code"], usccs=wanted["uscc"], id_numbers=wanted["id_number"]
    )
    return {(name, getattr(c, name)): c for c in found for name in IDENTIFIERS
            if getattr(c, name)}  # fmt: skip


def _match(index: Index, actor: User, values: dict[str, Any]) -> Customer | None:
    """The existing customer the row names by code, USCC or ID number (at most one)."""
    found: dict[int, tuple[str, Customer]] = {}
    code = values.get("code")
    if code:
        by_code = index.get(("code", code))
        if by_code is None:
            raise Rejected("code", "code_unknown", f"客户编号 {code} 不存在（新客户请留空）")
        found[by_code.id] = ("code", by_code)  # type: ignore[index]
    for name in ("uscc", "id_number"):
        other = index.get((name, str(values[name]))) if values.get(name) else None
        if other is not None:
            found.setdefault(other.id, (name, other))  # type: ignore[arg-type]
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


def _check_type(taxonomy: Taxonomy, customer: Customer, values: dict[str, Any]) -> None:
    """The customer type is not changed by an import (the editor does not change it either)."""
    labels = {ct.label: ct.code for ct in taxonomy.customer_types}
    kind = values.get("customer_type")
    if kind is not None and labels.get(kind, kind) != customer.customer_type:
        what = "客户类型不能通过导入修改（请在编辑页处理）"
        raise Rejected("customer_type", "not_editable", what)


# --- one row, a batch of rows, the whole file -------------------------------------------------


@dataclass
class Ctx:
    """The session, settings, acting user, option lists in effect and retired options (read
    once per import)."""

    session: Session
    settings: Settings
    actor: User
    taxonomy: Taxonomy
    retired: frozenset[str]


_LATER = "later"  # a row naming a customer an earlier row of the batch edits: judged after it


def _decide(ctx: Ctx, index: Index, values: dict[str, Any], claimed: set[int]) -> Any:
    """A new customer's checked values, a matched customer's checked edit (:func:`~archive.
    customers.plan_edit`, the editor's rules once), "unchanged", or :data:`_LATER`."""
    customer = _match(index, ctx.actor, values)
    if customer is None:
        new = {k: v for k, v in values.items() if k != "code"}
        return customers.prepare_customer(ctx.settings, ctx.actor, new, taxonomy=ctx.taxonomy)
    if customer.id in claimed:
        return _LATER
    _check_type(ctx.taxonomy, customer, values)
    given = {k: v for k, v in values.items() if k not in ("code", "customer_type")}
    plan = customers.plan_edit(ctx.session, ctx.settings, ctx.actor, customer, given,
                               taxonomy=ctx.taxonomy, retired=ctx.retired)  # fmt: skip
    if plan is None:
        return "unchanged"
    claimed.add(customer.id)  # type: ignore[arg-type]
    return plan


def _values(row: Row, owners: dict[str, int], seen: dict[tuple[str, str], int]) -> dict[str, Any]:
    """The row's editor values, refused when an identifier repeats an earlier row's."""
    values = row_values(row, owners)
    _seen_check(values, row.number, seen)
    return values


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


def _judged(row: Row, step: Callable[[], Any]) -> Any:
    """``step()``, or the row's :class:`Rejection` when a rule refuses it."""
    try:
        return step()
    except (Rejected, DossierError, PydanticValidationError) as e:
        return _rejection(row, e)


def _rejection(row: Row, e: Exception) -> Rejection:
    if isinstance(e, Rejected):
        return _reject(row, e.field, e.rule, e.message)
    if isinstance(e, DossierError):
        detail = e.detail
        name = str(detail.get("field") or "")
        return _reject(row, name, str(detail.get("reason") or e.code), e.message)
    assert isinstance(e, PydanticValidationError)  # a value the input models refuse outright
    first = e.errors()[0] if e.errors() else {}
    name = ".".join(str(x) for x in first.get("loc", ()))
    return _reject(row, name, "invalid", f"{name}：{first.get('msg', '无效')}")


def _create(ctx: Ctx, new: list[tuple[Row, CustomerCreate]], report: ImportReport) -> None:
    """Write the batch's new customers together; should that fail (another session took an
    identifier meanwhile) each is written alone in its savepoint and judged on its own."""
    session, actor = ctx.session, ctx.actor
    try:
        with session.begin_nested():
            customers.create_customers(session, actor, [values for _, values in new])
        report.created += len(new)
        return
    except DossierError:
        pass
    for row, values in new:

        def one(values: CustomerCreate = values) -> str:
            with session.begin_nested():
                customers.create_customers(session, actor, [values])
            return "created"

        _count(report, _judged(row, one))


def _edit(ctx: Ctx, edits: list[tuple[Row, customers.EditPlan]], report: ImportReport) -> None:
    """Write the edits of a batch together (:func:`archive.customers.edit_customers`: a row
    someone else saved meanwhile is rejected with the editor's conflict); should the batch fail
    (an identifier taken meanwhile) each is written alone in its savepoint."""
    session, settings, actor = ctx.session, ctx.settings, ctx.actor
    try:
        with session.begin_nested():
            outcomes = customers.edit_customers(session, settings, actor, [p for _, p in edits])
    except DossierError:
        outcomes = None
    if outcomes is not None:
        for (row, _), error in zip(edits, outcomes, strict=True):
            _count(report, _rejection(row, error) if error else "updated")
        return
    for row, plan in edits:

        def one(plan: customers.EditPlan = plan) -> str:
            with session.begin_nested():
                error = customers.edit_customers(session, settings, actor, [plan])[0]
            if error:
                raise error
            return "updated"

        _count(report, _judged(row, one))


def _count(report: ImportReport, outcome: str | Rejection) -> None:
    if isinstance(outcome, Rejection):
        report.rejected.append(outcome)
    else:
        setattr(report, outcome, getattr(report, outcome) + 1)


def _batch(ctx: Ctx, rows: list[Row], state: _State) -> None:
    """Judge a batch: rows to values, one lookup of the customers they name, the edits checked
    and written together, new customers written together (unless nothing will be kept)."""
    report, owners, seen = state.report, state.owners, state.seen
    pending: list[tuple[Row, dict[str, Any]]] = []
    for row in rows:
        values = _judged(row, lambda row=row: _values(row, owners, seen))
        if isinstance(values, Rejection):
            _count(report, values)
        else:
            pending.append((row, values))
    index = _lookup(ctx.session, pending)
    new: list[tuple[Row, CustomerCreate]] = []
    while pending:  # rounds: a customer two rows name is edited by the second after the first
        later, edits, claimed = [], [], set[int]()
        for row, values in pending:
            outcome = _judged(row, lambda v=values, c=claimed: _decide(ctx, index, v, c))
            if isinstance(outcome, CustomerCreate):
                new.append((row, outcome))
            elif isinstance(outcome, customers.EditPlan):
                edits.append((row, outcome))
            elif outcome == _LATER:
                later.append((row, values))
            else:
                _count(report, outcome)
        if edits:
            _edit(ctx, edits, report)
        pending = later
    if new and (state.dry_run or (report.rejected and not state.partial)):
        report.created += len(new)  # judged; nothing of this import will be kept
    elif new:
        _create(ctx, new, report)


@dataclass
class _State:
    report: ImportReport
    owners: dict[str, int]
    partial: bool
    dry_run: bool
    seen: dict[tuple[str, str], int] = field(default_factory=dict)


def _batches(rows: Iterable[Row]) -> Iterator[list[Row]]:
    it = iter(rows)
    while batch := list(islice(it, BATCH)):
        yield batch


def import_rows(
    session: Session,
    settings: Settings,
    actor: User,
    rows: Iterable[Row],
    *,
    partial: bool = False,
    progress: Callable[[int], None] | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import ``rows`` as ``actor``; commit unless a row is rejected and ``partial`` is False.

    Rows are taken :data:`BATCH` at a time (streamed: memory does not grow with the file).
    ``dry_run``: judge every row (the report's counts are what an import would do), then roll
    everything back.

    Raises:
        ImportRefusedError: The file as a whole is refused (raised while reading ``rows``).
    """
    owners = {u.username: u.id for u in session.exec(select(UserRow)).all()}
    retired = frozenset(o.value for o in repo.option_items(session) if o.is_retired)
    state = _State(ImportReport(), owners, partial=partial, dry_run=dry_run)  # type: ignore[arg-type]
    report = state.report
    taxonomy = repo.options_in_effect(session, settings.taxonomy)  # as admins edited them
    ctx = Ctx(session, settings, actor, taxonomy, retired)
    try:
        for batch in _batches(rows):
            report.rows += len(batch)
            _batch(ctx, batch, state)
            session.flush()
            session.expunge_all()  # nothing loaded is kept between batches
            if progress:
                progress(report.rows)
    except BaseException:  # a file refused part-way (too many rows, a broken sheet): nothing kept
        session.rollback()
        raise
    report.rejected.sort(key=lambda r: r.row)
    if dry_run or (report.rejected and not partial):
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
    dry_run: bool = False,
) -> ImportReport:
    """Import the XLSX or CSV ``path`` batch by batch (:func:`import_rows`).

    ``progress(done, total)`` is called once the file is open (``done`` 0; ``total`` as
    :func:`~archive.exchange.reading.open_rows` counts it), after every batch, and at the end
    with the rows there were.

    Raises:
        ImportRefusedError: Empty, encrypted, a zip bomb, no header, too many rows, ... (a file
            refused part-way has written nothing).
    """
    total, rows = open_rows(path)
    first = next(rows, None)
    if first is None:
        raise ImportRefusedError("文件中没有数据行（只有表头）", reason="empty")
    if progress:
        progress(0, total)
    report = import_rows(
        session,
        settings,
        actor,
        chain([first], rows),
        partial=partial,
        progress=(lambda done: progress(done, max(total, done))) if progress else None,
        dry_run=dry_run,
    )
    if progress:
        progress(report.rows, report.rows)
    return report
