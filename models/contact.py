"""Contacts (联系人) of a customer: one customer, many contacts (issue 15, item 2).

A contact has a name (required), gender, department, title, mobile (11-digit mobile number),
office phone (mobile or landline with area code), e-mail, WeChat ID, responsibilities,
communication preference and relationship level (option lists from the taxonomy's
``[options]``: ``gender``, ``communication_preference``, ``relationship_level``), and the
primary-contact and decision-maker flags. ``phones`` holds further numbers (kept from the first
schema). Input may use full-width digits, spaces and brackets; every error names the field and
the rule in Chinese.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from sqlmodel import Field, SQLModel

from config.taxonomy import Taxonomy, load_taxonomy
from models.db import UTCDateTime, utcnow
from models.validation import ValidationError, validate_email, validate_option, validate_phone


class Contact(SQLModel, table=True):
    """A person at a customer (many per customer); at most one is the primary contact."""

    __tablename__ = "customer_contact"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    name: str = Field(max_length=100)
    gender: str | None = Field(default=None, max_length=8)
    department: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=100)
    mobile: str | None = Field(default=None, max_length=32)
    office_phone: str | None = Field(default=None, max_length=32)
    phones: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    email: str | None = Field(default=None, max_length=254)
    wechat: str | None = Field(default=None, max_length=64)
    responsibilities: str | None = Field(default=None, max_length=500)
    communication_preference: str | None = Field(default=None, max_length=32)
    relationship_level: str | None = Field(default=None, max_length=32)
    is_primary: bool = Field(default=False)
    is_decision_maker: bool = Field(default=False)
    created_by: str = Field(default="system", max_length=64)
    updated_by: str = Field(default="system", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


CONTACT_LABELS = {
    "name": "联系人姓名",
    "gender": "性别",
    "department": "部门",
    "title": "职务",
    "mobile": "手机",
    "office_phone": "办公电话",
    "phones": "其他电话",
    "email": "电子邮箱",
    "wechat": "微信",
    "responsibilities": "负责事项",
    "communication_preference": "沟通偏好",
    "relationship_level": "关系程度",
    "is_primary": "主要联系人",
    "is_decision_maker": "决策人",
}
#: Contact field -> the taxonomy's [options] key.
CONTACT_OPTION_KEYS = {
    "gender": "gender",
    "communication_preference": "communication_preference",
    "relationship_level": "relationship_level",
}
CONTACT_FIELDS = tuple(CONTACT_LABELS)
_WECHAT_ID = re.compile(r"[A-Za-z][-_A-Za-z0-9]{5,19}")
_TRUE = {"1", "true", "yes", "y", "是", "on"}
_FALSE = {"0", "false", "no", "n", "否", "off", ""}


def contact_fail(field: str, reason: str, what: str) -> ValidationError:
    """An error naming the contact field (Chinese label) and the rule."""
    label = CONTACT_LABELS.get(field, field)
    return ValidationError(f"{label}：{what}", field=field, reason=reason)


def clean_text(value: Any) -> Any:
    """Strings NFC-normalized and stripped; blank means absent (None)."""
    if isinstance(value, str):
        value = unicodedata.normalize("NFC", value).replace("\u3000", " ").strip()
        return value or None
    return value


def _phone(field: str, value: str, *, mobile_only: bool) -> str:
    try:
        number = validate_phone(unicodedata.normalize("NFKC", value), field)
    except ValidationError as e:
        rule = "须为11位手机号" if mobile_only else "须为11位手机号或带区号的固话"
        raise contact_fail(field, e.reason, rule) from e
    if mobile_only and not (len(number) == 11 and number.isdigit()):
        raise contact_fail(field, "phone_format", "须为11位手机号")
    return number


def _wechat(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).strip()
    if _WECHAT_ID.fullmatch(text):
        return text
    try:
        return _phone("wechat", text, mobile_only=True)
    except ValidationError as e:
        raise contact_fail(
            "wechat", "wechat_format", "须为6-20位、以字母开头的微信号（字母、数字、-、_）或手机号"
        ) from e


def _flag(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise contact_fail(field, "flag_format", "须为“是”或“否”")


def validate_contact_values(
    values: Mapping[str, Any], *, taxonomy: Taxonomy | None = None, partial: bool = False
) -> dict[str, Any]:
    """Clean and check contact values; ``partial`` (an edit) does not require the name.

    Raises:
        ValidationError: Naming the first field that is unknown, missing or wrong.
    """
    taxonomy = taxonomy or load_taxonomy()
    unknown = sorted(set(values) - set(CONTACT_FIELDS))
    if unknown:
        raise ValidationError(
            f"{unknown[0]}：不是联系人的字段", field=unknown[0], reason="unknown_field"
        )
    out = {k: clean_text(v) for k, v in values.items()}
    if (not partial or "name" in out) and out.get("name") is None:
        raise contact_fail("name", "required", "不能为空")
    if out.get("mobile") is not None:
        out["mobile"] = _phone("mobile", out["mobile"], mobile_only=True)
    if out.get("office_phone") is not None:
        out["office_phone"] = _phone("office_phone", out["office_phone"], mobile_only=False)
    if "phones" in out:
        phones = out["phones"] or []
        phones = [phones] if isinstance(phones, str) else phones
        cleaned = [p for p in (clean_text(p) for p in phones) if p]
        out["phones"] = [_phone("phones", p, mobile_only=False) for p in cleaned]
    if out.get("email") is not None:
        try:
            out["email"] = validate_email(unicodedata.normalize("NFKC", out["email"]))
        except ValidationError as e:
            raise contact_fail("email", e.reason, "格式错误，应如 name@example.com") from e
    if out.get("wechat") is not None:
        out["wechat"] = _wechat(out["wechat"])
    for name, key in CONTACT_OPTION_KEYS.items():
        options = taxonomy.options.get(key)
        if out.get(name) is not None and options:
            try:
                out[name] = validate_option(name, out[name], options)
            except ValidationError as e:
                raise contact_fail(
                    name, "option_unknown", f"选项“{out[name]}”无效，可选：{'、'.join(options)}"
                ) from e
    for name in ("is_primary", "is_decision_maker"):
        if name in out:
            out[name] = _flag(name, out[name] if out[name] is not None else False)
    return out


class ContactCreate(BaseModel):
    """A contact person, validated on construction (raises our ``ValidationError``).

    Another taxonomy: ``ContactCreate.model_validate(values, context={"taxonomy": t})``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    gender: str | None = None
    department: str | None = None
    title: str | None = None
    mobile: str | None = None
    office_phone: str | None = None
    phones: list[str] = []
    email: str | None = None
    wechat: str | None = None
    responsibilities: str | None = None
    communication_preference: str | None = None
    relationship_level: str | None = None
    is_primary: bool = False
    is_decision_maker: bool = False

    @model_validator(mode="before")
    @classmethod
    def _validate(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return data
        context = info.context if isinstance(info.context, Mapping) else {}
        out = validate_contact_values(data, taxonomy=context.get("taxonomy"))
        return {k: v for k, v in out.items() if v is not None}
