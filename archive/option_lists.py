"""Option lists admins edit on the web (``/options``): add, rename, retire, restore (issue 15).

Plain functions taking ``session``, ``settings`` and ``actor``; the caller commits. Only admins
(``Action.MANAGE_TAXONOMY``) change a list; every change is an audit event (``option.add``,
``option.rename``, ``option.retire``, ``option.restore``). The lists live in the database once
edited (why: ``models.option_item``); validation everywhere uses them through
``models.repo.options_in_effect``.

Editable: the lists whose values are stored as shown (:data:`EDITABLE_LISTS`). Not here:
客户类型 and 客户状态 (codes tied to the identity rules, the document checklist and the status
constraint: the taxonomy file), 客户等级 (the value tier gives a level by name) and 性别.
A rename changes every record holding the old text; a retired option stays valid on the
records that hold it but is no longer offered.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from archive.permissions import Action, require
from config.settings import Settings
from models import repo
from models.errors import NotFoundError
from models.option_item import OptionItem
from models.user import User

#: The lists admins may edit (the taxonomy's ``[options]`` keys) with their Chinese names.
EDITABLE_LISTS = {
    "industry": "所属行业",
    "source_channel": "客户来源",
    "scale": "客户规模",
    "region": "区域",
    "follow_up": "跟进状态",
    "decision_role": "决策链角色",
    "complaint_type": "投诉类型",
    "communication_preference": "沟通偏好",
    "relationship_level": "关系程度",
    "follow_up_channel": "跟进方式",
    "cooperation_status": "合作状态",
}


@dataclass(frozen=True)
class OptionRow:
    """One option as the page shows it."""

    value: str
    retired: bool
    records: int  # records holding it (multi-selects such as 决策链角色 not counted)


@dataclass(frozen=True)
class OptionList:
    """One editable list: its key, Chinese name, options and whether it was ever edited."""

    key: str
    label: str
    options: list[OptionRow]
    edited: bool


def _file_values(settings: Settings, key: str) -> tuple[str, ...]:
    if key not in EDITABLE_LISTS:
        raise NotFoundError(f"选项列表“{key}”不存在或不可编辑", list_key=key)
    return settings.taxonomy.options.get(key, ())


def option_lists(session: Session, settings: Settings, actor: User) -> list[OptionList]:
    """Every editable list with its options (admins)."""
    require(actor, Action.MANAGE_TAXONOMY)
    stored: dict[str, list[OptionItem]] = {}
    for item in repo.option_items(session):
        stored.setdefault(item.list_key, []).append(item)
    out = []
    for key, label in EDITABLE_LISTS.items():
        counts = repo.count_holders(session, list_key=key)
        items = stored.get(key)
        rows = (
            [OptionRow(i.value, i.is_retired, counts.get(i.value, 0)) for i in items]
            if items
            else [OptionRow(v, False, counts.get(v, 0)) for v in _file_values(settings, key)]
        )
        out.append(OptionList(key, label, rows, edited=bool(items)))
    return out


def add_option(
    session: Session, settings: Settings, actor: User, key: str, value: str
) -> OptionItem:
    """Add an option to a list (admins).

    Raises:
        PermissionDeniedError, NotFoundError (not an editable list), ValidationError,
        ConflictError (already in the list).
    """
    require(actor, Action.MANAGE_TAXONOMY)
    return repo.add_option(
        session, list_key=key, value=value, file_values=_file_values(settings, key),
        actor=actor.username,
    )  # fmt: skip


def rename_option(
    session: Session, settings: Settings, actor: User, key: str, value: str, new_value: str
) -> tuple[OptionItem, int]:
    """Rename an option (admins); returns it and how many records changed with it.

    Raises:
        PermissionDeniedError, NotFoundError, ValidationError, ConflictError.
    """
    require(actor, Action.MANAGE_TAXONOMY)
    return repo.rename_option(
        session, list_key=key, value=value, new_value=new_value,
        file_values=_file_values(settings, key), actor=actor.username,
    )  # fmt: skip


def retire_option(
    session: Session, settings: Settings, actor: User, key: str, value: str, *, retired: bool
) -> OptionItem:
    """Retire (``retired=True``) or restore an option (admins).

    Raises:
        PermissionDeniedError, NotFoundError, ConflictError (the last option in use).
    """
    require(actor, Action.MANAGE_TAXONOMY)
    return repo.set_option_retired(
        session, list_key=key, value=value, retired=retired,
        file_values=_file_values(settings, key), actor=actor.username,
    )  # fmt: skip
