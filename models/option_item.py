"""Option lists (选项列表) as edited by admins (issue 15): 所属行业, 客户来源, 跟进方式 …

The taxonomy file (``config/taxonomy.toml`` ``[options]``) holds every list as shipped. The
first time an admin edits a list on the web, its values are copied here and from then on the
rows of that list are the list: active ones are offered in forms, retired ones
(``is_retired``) are no longer offered but stay valid on the records that already hold them.
A list with no rows here is still the file's. Writes: ``models.repo.options``.

Kept in the database rather than written back to the TOML file: the change and its audit event
commit together, every web process sees it at once, a read-only or shared configuration file is
never rewritten, and database backups carry the edited lists with the records that use them.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow
from models.validation import ValidationError

MAX_OPTION_LENGTH = 32
_FORBIDDEN = set(",，、;；/\\")


class OptionItem(SQLModel, table=True):
    """One option of one list (``list_key``: the taxonomy's ``[options]`` key)."""

    __tablename__ = "option_item"
    __table_args__ = (sa.UniqueConstraint("list_key", "value", name="uq_option_item_list_key"),)

    id: int | None = Field(default=None, primary_key=True)
    list_key: str = Field(max_length=64)
    value: str = Field(max_length=64)
    position: int = Field(default=0)
    is_retired: bool = Field(default=False)
    created_by: str = Field(max_length=64)
    updated_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def validate_option_value(value: Any, field: str = "value") -> str:
    """An option's text: NFKC (half-width), inner spaces collapsed, 1-32 characters, no list
    separators (a multi-select such as 决策链角色 is split on them).

    Raises:
        ValidationError: ``选项：...`` naming the rule.
    """
    text = " ".join(unicodedata.normalize("NFKC", str(value or "")).split())
    if not text:
        raise ValidationError("选项：不能为空", field=field, reason="required")
    if len(text) > MAX_OPTION_LENGTH:
        raise ValidationError(
            f"选项：不能超过{MAX_OPTION_LENGTH}个字符", field=field, reason="too_long"
        )
    if _FORBIDDEN & set(text):
        raise ValidationError(
            "选项：不能包含逗号、顿号、分号或斜杠", field=field, reason="option_format"
        )
    return text
