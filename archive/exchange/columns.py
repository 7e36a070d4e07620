"""The template's columns: one list of (field, Chinese header) for export, import and template.

The headers are the customer-file standard's field names (../shared/STANDARD.md). Values are
written as a person types them in the editor: type and status as labels, dates as YYYY-MM-DD,
multi-selects joined with 、, the owner as a username.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from config.taxonomy import Taxonomy
from models.customer import Customer
from models.validation import mask_email, mask_id_number, mask_phone

#: (field, header) in template order. ``owner`` is the owner's username.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("code", "客户编号"),
    ("name", "客户名称"),
    ("customer_type", "客户类型"),
    ("status", "客户状态"),
    ("uscc", "统一社会信用代码"),
    ("id_number", "证件号码"),
    ("established_date", "成立时间"),
    ("legal_representative", "法定代表人"),
    ("contact_person", "联系人"),
    ("phone", "联系方式"),
    ("email", "电子邮箱"),
    ("address", "地址"),
    ("industry", "所属行业"),
    ("scale", "客户规模"),
    ("region", "区域"),
    ("level", "客户等级"),
    ("source_channel", "客户来源"),
    ("first_cooperation_date", "首次合作时间"),
    ("latest_cooperation_date", "最近合作日期"),
    ("cumulative_amount", "累计合作金额"),
    ("decision_roles", "决策链角色"),
    ("follow_up_status", "跟进状态"),
    ("complaint_count", "投诉次数"),
    ("complaint_type", "投诉类型"),
    ("last_service_date", "最近服务时间"),
    ("satisfaction", "服务满意度"),
    ("campaigns", "参与活动"),
    ("owner", "负责人"),
    ("notes", "备注"),
)
HEADERS = tuple(h for _, h in COLUMNS)
FIELD_BY_HEADER = {h: f for f, h in COLUMNS}
HEADER_BY_FIELD = {f: h for f, h in COLUMNS}
#: Other spellings of a header accepted on import.
ALIASES = {"客户类别": "customer_type", "身份证号码": "id_number", "公民身份号码": "id_number",
           "联系电话": "phone", "手机": "phone", "邮箱": "email", "成立日期": "established_date",
           "客户负责人": "owner"}  # fmt: skip
DATE_FIELDS = frozenset(
    {"established_date", "first_cooperation_date", "latest_cooperation_date", "last_service_date"}
)
#: Fields whose digits and letters are made half-width before the editor's checks.
CODE_FIELDS = frozenset({"code", "uscc", "id_number", "phone", "email"})
LIST_FIELDS = frozenset({"decision_roles", "campaigns"})
MASKS = {"phone": mask_phone, "id_number": mask_id_number, "email": mask_email}


def header_field(text: object) -> str | None:
    """The field of a header cell (spaces, full-width forms and a trailing * ignored)."""
    if text is None:
        return None
    key = "".join(unicodedata.normalize("NFKC", str(text)).split()).rstrip("*")
    return FIELD_BY_HEADER.get(key) or ALIASES.get(key)


def cell_text(value: Any) -> str:
    """A stored value as a person types it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def customer_row(
    customer: Customer, *, taxonomy: Taxonomy, owners: dict[int, str], masked: bool
) -> list[str]:
    """One customer as template cells; phone, ID number and e-mail masked when ``masked``."""
    types = {ct.code: ct.label for ct in taxonomy.customer_types}
    out: list[str] = []
    for field, _ in COLUMNS:
        if field == "owner":
            value: Any = owners.get(customer.owner_id or 0, "")
        elif field == "customer_type":
            value = types.get(customer.customer_type, customer.customer_type)
        elif field == "status":
            value = taxonomy.customer_statuses.get(customer.status, customer.status)
        else:
            value = getattr(customer, field)
        text = cell_text(value)
        if masked and text and field in MASKS:
            text = MASKS[field](text)
        out.append(text)
    return out
