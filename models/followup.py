"""Follow-ups (跟进记录) of a customer: when, who, channel, content, next step, status.

``followed_at`` is a moment (UTC in the database); input is China time ``YYYY-MM-DD`` or
``YYYY-MM-DD HH:MM`` (full-width digits accepted), defaulting to now. ``channel`` and ``status``
come from the taxonomy's ``[options]`` (``follow_up_channel``, ``follow_up``). The newest
follow-up's status becomes the customer's 跟进状态 (``archive.followups``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from config.clock import CHINA_TZ
from config.taxonomy import Taxonomy, load_taxonomy
from models.contact import clean_text
from models.db import UTCDateTime, utcnow
from models.validation import ValidationError, validate_date, validate_option


class FollowUp(SQLModel, table=True):
    """One entry in a customer's follow-up log (never edited, only added)."""

    __tablename__ = "customer_follow_up"
    __table_args__ = (sa.Index("ix_customer_follow_up_customer_at", "customer_id", "followed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    followed_at: datetime = Field(sa_type=UTCDateTime)
    followed_by: str = Field(max_length=64)
    channel: str | None = Field(default=None, max_length=32)
    content: str = Field(sa_type=sa.Text)
    next_step: str | None = Field(default=None, max_length=500)
    next_date: date | None = None
    status: str | None = Field(default=None, max_length=64)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


FOLLOW_UP_LABELS = {
    "followed_at": "跟进时间",
    "followed_by": "跟进人",
    "channel": "跟进方式",
    "content": "跟进内容",
    "next_step": "下一步计划",
    "next_date": "下次跟进日期",
    "status": "跟进状态",
}
FOLLOW_UP_OPTION_KEYS = {"channel": "follow_up_channel", "status": "follow_up"}


def follow_up_fail(field: str, reason: str, what: str) -> ValidationError:
    """An error naming the follow-up field (Chinese label) and the rule."""
    return ValidationError(
        f"{FOLLOW_UP_LABELS.get(field, field)}：{what}", field=field, reason=reason
    )


def parse_moment(value: Any, field: str = "followed_at") -> datetime:
    """A moment from a datetime or China-time text ``YYYY-MM-DD[ HH:MM]``; aware, in UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=CHINA_TZ)
        return value.astimezone(UTC)
    text = " ".join(unicodedata.normalize("NFKC", str(value)).split())
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=CHINA_TZ).astimezone(UTC)
        except ValueError:
            continue
    rule = f"格式错误：应为YYYY-MM-DD或YYYY-MM-DD HH:MM，实际为“{text}”"
    raise follow_up_fail(field, "date_format", rule)


def validate_follow_up_values(
    values: Mapping[str, Any], *, taxonomy: Taxonomy | None = None
) -> dict[str, Any]:
    """Clean and check a new follow-up; ``followed_at`` defaults to now.

    Raises:
        ValidationError: Naming the first field that is unknown, missing or wrong.
    """
    taxonomy = taxonomy or load_taxonomy()
    allowed = set(FOLLOW_UP_LABELS)
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValidationError(
            f"{unknown[0]}：不是跟进记录的字段", field=unknown[0], reason="unknown_field"
        )
    out = {k: clean_text(v) for k, v in values.items()}
    if out.get("content") is None:
        raise follow_up_fail("content", "required", "不能为空")
    moment = out.get("followed_at")
    out["followed_at"] = parse_moment(moment) if moment is not None else utcnow()
    if out.get("next_date") is not None:
        text = unicodedata.normalize("NFKC", str(out["next_date"])).strip()
        try:
            out["next_date"] = validate_date(
                out["next_date"] if isinstance(out["next_date"], date) else text, "next_date"
            )
        except ValidationError as e:
            raise follow_up_fail("next_date", e.reason, "格式错误：应为YYYY-MM-DD") from e
    for name, key in FOLLOW_UP_OPTION_KEYS.items():
        options = taxonomy.options.get(key)
        if out.get(name) is not None and options:
            try:
                out[name] = validate_option(name, out[name], options)
            except ValidationError as e:
                raise follow_up_fail(
                    name, "option_unknown", f"选项“{out[name]}”无效，可选：{'、'.join(options)}"
                ) from e
    return out
