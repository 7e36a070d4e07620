"""Option lists edited by admins (``models.option_item``): the lists in effect, and changes.

:func:`options_in_effect` is the one place that lays the edited lists over the taxonomy file's:
every repository writer validates with it, and pages offer its lists. A rename changes the
records that hold the old text in the same transaction (values are stored as shown).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from config.taxonomy import Taxonomy, load_taxonomy
from models.contact import CONTACT_OPTION_KEYS, Contact
from models.cooperation import Cooperation
from models.customer import OPTION_FIELDS, Customer
from models.customer_fields import OPTION_KEYS
from models.db import utcnow
from models.errors import ConflictError, NotFoundError
from models.followup import FOLLOW_UP_OPTION_KEYS, FollowUp
from models.option_item import OptionItem, validate_option_value
from models.repo.audit import add_audit_event
from models.repo.base import atomic

#: A list kept as a multi-select (a JSON list of options on the record).
_LIST_HOLDERS = {"decision_role": ((Customer, "decision_roles"),)}


def holders(list_key: str) -> list[tuple[Any, str]]:
    """The (table, column) pairs whose values come from the list ``list_key`` (plain text)."""
    out: list[tuple[Any, str]] = [(Customer, n) for n in OPTION_FIELDS if n == list_key]
    out += [(Customer, f) for f, k in OPTION_KEYS.items() if k == list_key]
    out += [(Contact, f) for f, k in CONTACT_OPTION_KEYS.items() if k == list_key]
    out += [(FollowUp, f) for f, k in FOLLOW_UP_OPTION_KEYS.items() if k == list_key]
    out += [(Cooperation, "status")] if list_key == "cooperation_status" else []
    return out


def held_values(*records: Any) -> set[str]:
    """Every text a record holds (list items included): its retired options stay valid."""
    found: set[str] = set()
    for record in records:
        if record is None:
            continue
        for name in type(record).model_fields:
            value = getattr(record, name, None)
            items = value if isinstance(value, list) else [value]
            found.update(v for v in items if isinstance(v, str))
    return found


def option_items(session: Session, *, list_key: str | None = None) -> list[OptionItem]:
    """The stored options (of one list), in list order."""
    query = select(OptionItem).order_by(
        col(OptionItem.list_key), col(OptionItem.position), col(OptionItem.id)
    )
    if list_key is not None:
        query = query.where(OptionItem.list_key == list_key)
    return list(session.exec(query).all())


def options_in_effect(
    session: Session,
    taxonomy: Taxonomy | None,
    *,
    keep: Iterable[str] = (),
    include_retired: bool = False,
) -> Taxonomy:
    """``taxonomy`` with the edited lists in place of the file's.

    Args:
        keep: Texts the record being changed holds: a retired option among them stays valid.
        include_retired: Every retired option too (filters that must find old records).
    """
    taxonomy = taxonomy or load_taxonomy()
    rows = option_items(session)
    if not rows:
        return taxonomy
    kept = set(keep)
    lists: dict[str, list[str]] = {}
    for row in rows:
        offered = not row.is_retired or include_retired or row.value in kept
        lists.setdefault(row.list_key, [])
        if offered:
            lists[row.list_key].append(row.value)
    options = {**taxonomy.options, **{k: tuple(v) for k, v in lists.items()}}
    return dataclasses.replace(taxonomy, options=options)


def _items(
    session: Session, list_key: str, file_values: Sequence[str], actor: str
) -> list[OptionItem]:
    """The list's rows; the first edit copies the file's list in (same transaction)."""
    rows = option_items(session, list_key=list_key)
    if rows:
        return rows
    for position, value in enumerate(file_values):
        session.add(OptionItem(list_key=list_key, value=value, position=position,
                               created_by=actor, updated_by=actor))  # fmt: skip
    session.flush()
    return option_items(session, list_key=list_key)


def _find(rows: Sequence[OptionItem], list_key: str, value: str) -> OptionItem:
    for row in rows:
        if row.value == value:
            return row
    raise NotFoundError(f"选项“{value}”不存在", list_key=list_key, value=value)


def _audit(session: Session, actor: str, action: str, list_key: str, **kw: Any) -> None:
    add_audit_event(
        session, actor=actor, action=action, entity_type="option", entity_id=list_key, **kw
    )


def add_option(
    session: Session, *, list_key: str, value: str, file_values: Sequence[str], actor: str
) -> OptionItem:
    """Add an option at the end of the list.

    Raises:
        ValidationError: A bad text. ConflictError: The list has it (retired: restore it).
    """
    text = validate_option_value(value)
    with atomic(session):
        rows = _items(session, list_key, file_values, actor)
        for row in rows:
            if row.value == text:
                hint = "（已停用，可恢复）" if row.is_retired else ""
                raise ConflictError(f"选项：“{text}”已存在{hint}", field="value", existing=text)
        item = OptionItem(list_key=list_key, value=text, created_by=actor, updated_by=actor,
                          position=max((r.position for r in rows), default=-1) + 1)  # fmt: skip
        session.add(item)
        session.flush()
        _audit(session, actor, "option.add", list_key, after={"list": list_key, "value": text})
    return item


def _rename_records(session: Session, list_key: str, old: str, new: str) -> int:
    changed = 0
    for table, column in holders(list_key):
        field = getattr(table, column)
        result = session.execute(sa.update(table).where(field == old).values({column: new}))
        changed += int(result.rowcount or 0)
    for table, column in _LIST_HOLDERS.get(list_key, ()):
        field = getattr(table, column)
        held = select(table).where(field.is_not(None), sa.cast(field, sa.String) != "[]")
        for record in session.exec(held).all():
            values = list(getattr(record, column) or [])
            if old in values:
                setattr(record, column, [new if v == old else v for v in values])
                session.add(record)
                changed += 1
    session.flush()
    return changed


def rename_option(
    session: Session,
    *,
    list_key: str,
    value: str,
    new_value: str,
    file_values: Sequence[str],
    actor: str,
) -> tuple[OptionItem, int]:
    """Rename an option; records holding the old text get the new one (how many: returned).

    Raises:
        NotFoundError, ValidationError, ConflictError (the new text is in the list).
    """
    text = validate_option_value(new_value, "new_value")
    with atomic(session):
        rows = _items(session, list_key, file_values, actor)
        item = _find(rows, list_key, value)
        if any(r.value == text and r is not item for r in rows):
            raise ConflictError(f"选项：“{text}”已存在", field="new_value", existing=text)
        if text == item.value:
            return item, 0
        item.value, item.updated_by, item.updated_at = text, actor, utcnow()
        session.add(item)
        session.flush()
        changed = _rename_records(session, list_key, value, text)
        _audit(session, actor, "option.rename", list_key,
               before={"list": list_key, "value": value},
               after={"list": list_key, "value": text, "records_changed": changed})  # fmt: skip
    return item, changed


def set_option_retired(
    session: Session,
    *,
    list_key: str,
    value: str,
    retired: bool,
    file_values: Sequence[str],
    actor: str,
) -> OptionItem:
    """Retire an option (no longer offered; records keep it) or restore it.

    Raises:
        NotFoundError: No such option. ConflictError: Retiring the last active option.
    """
    with atomic(session):
        rows = _items(session, list_key, file_values, actor)
        item = _find(rows, list_key, value)
        if item.is_retired == retired:
            return item
        if retired and sum(1 for r in rows if not r.is_retired) == 1:
            raise ConflictError("选项：列表中至少要保留一个在用的选项", field="value")
        item.is_retired, item.updated_by, item.updated_at = retired, actor, utcnow()
        session.add(item)
        session.flush()
        action = "option.retire" if retired else "option.restore"
        _audit(session, actor, action, list_key,
               before={"list": list_key, "value": value, "is_retired": not retired},
               after={"list": list_key, "value": value, "is_retired": retired})  # fmt: skip
    return item


def count_holders(session: Session, *, list_key: str) -> dict[str, int]:
    """How many records hold each text of the list (plain columns; multi-selects aside)."""
    counts: dict[str, int] = {}
    for table, column in holders(list_key):
        field = getattr(table, column)
        query = select(field, func.count()).where(field.is_not(None)).group_by(field)
        for value, n in session.exec(query).all():
            counts[value] = counts.get(value, 0) + int(n)
    return counts
