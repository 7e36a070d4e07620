"""Tags (标签): a managed vocabulary and the tags of each customer (issue 15, item 5).

Admins add, rename, merge and retire tags; a retired tag stays on the customers that have it
but cannot be given to more. A customer has at most :data:`MAX_TAGS_PER_CUSTOMER` tags.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow
from models.validation import ValidationError

MAX_TAGS_PER_CUSTOMER = 5
MAX_TAG_LENGTH = 32
_FORBIDDEN = set(",，、;；/\\")


class Tag(SQLModel, table=True):
    """A tag of the vocabulary (e.g. 制造业, 高价值, 成交客户)."""

    __tablename__ = "tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=MAX_TAG_LENGTH, unique=True)
    description: str | None = Field(default=None, max_length=200)
    is_retired: bool = Field(default=False)
    created_by: str = Field(max_length=64)
    updated_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CustomerTag(SQLModel, table=True):
    """A tag given to a customer."""

    __tablename__ = "customer_tag"
    __table_args__ = (sa.Index("ix_customer_tag_tag_customer", "tag_id", "customer_id"),)

    customer_id: int = Field(foreign_key="customer.id", primary_key=True)
    tag_id: int = Field(foreign_key="tag.id", primary_key=True)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def validate_tag_name(value: Any, field: str = "tag") -> str:
    """A tag name: NFKC (half-width), inner spaces collapsed, 1-32 characters, no separators.

    Raises:
        ValidationError: ``标签名称：...`` naming the rule.
    """
    text = " ".join(unicodedata.normalize("NFKC", str(value or "")).split())
    if not text:
        raise ValidationError("标签名称：不能为空", field=field, reason="required")
    if len(text) > MAX_TAG_LENGTH:
        raise ValidationError(
            f"标签名称：不能超过{MAX_TAG_LENGTH}个字符", field=field, reason="too_long"
        )
    if _FORBIDDEN & set(text):
        raise ValidationError(
            "标签名称：不能包含逗号、顿号、分号或斜杠", field=field, reason="tag_format"
        )
    return text
