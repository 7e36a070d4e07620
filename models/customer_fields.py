"""The standard's business, service and marketing fields of a customer (issue 15, item 1).

The groups of the customer-file standard (../shared/STANDARD.md) and the checks for the fields
that :mod:`models.customer` did not have: cooperation dates, cumulative amount (exact
``Decimal`` in 元), decision roles (multi-select), follow-up status, complaints, last service
date, satisfaction (1-5) and campaigns. Option lists come from the taxonomy's ``[options]``
table (``follow_up``, ``decision_role``, ``complaint_type``), which an admin extends by pointing
the taxonomy setting at their own TOML file. Input may use full-width digits and spaces.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from config.taxonomy import Taxonomy
from models.validation import ValidationError, field_label, validate_date, validate_option

GROUPS: dict[str, tuple[str, ...]] = {
    "basic": ("code", "name", "uscc", "id_number", "established_date"),
    "contact": ("legal_representative", "contact_person", "phone", "email", "address"),
    "classification": (
        "customer_type",
        "status",
        "industry",
        "scale",
        "region",
        "level",
        "source_channel",
    ),
    "business": (
        "first_cooperation_date",
        "latest_cooperation_date",
        "cumulative_amount",
        "decision_roles",
        "follow_up_status",
    ),
    "service": ("complaint_count", "complaint_type", "last_service_date", "satisfaction"),
    "marketing": ("campaigns",),
    "management": ("owner_id", "updated_at", "notes"),
}
GROUP_LABELS = {
    "basic": "基本信息",
    "contact": "联系信息",
    "classification": "分类信息",
    "business": "业务信息",
    "service": "服务信息",
    "marketing": "营销信息",
    "management": "管理信息",
}
LABELS = {
    "id": "内部编号",
    "code": "客户编号",
    "name": "客户名称",
    "customer_type": "客户类型",
    "value_tier": "价值层级",
    "tags": "标签",
    "version": "版本",
    "created_by": "创建人",
    "created_at": "创建时间",
    "updated_by": "修改人",
    "updated_at": "更新时间",
    "manual_fields": "手工设定的字段",
    "level_reason": "等级调整原因",
    "first_cooperation_date": "首次合作时间",
    "latest_cooperation_date": "最近合作日期",
    "cumulative_amount": "累计合作金额",
    "annual_amount": "年度合作金额",
    "decision_roles": "决策链角色",
    "follow_up_status": "跟进状态",
    "complaint_count": "投诉次数",
    "complaint_type": "投诉类型",
    "last_service_date": "最近服务时间",
    "satisfaction": "服务满意度",
    "campaigns": "参与活动",
    "scale": "客户规模",
    "region": "区域",
    "level": "客户等级",
    "status": "客户状态",
    "notes": "备注",
    "owner_id": "负责人",
}
# Option field -> the taxonomy's [options] key.
OPTION_KEYS = {"follow_up_status": "follow_up", "complaint_type": "complaint_type"}
MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)
_CENT = Decimal("0.01")


def label(field: str) -> str:
    """The Chinese label of a customer field."""
    return LABELS.get(field) or field_label(field)


def fail(field: str, reason: str, what: str) -> ValidationError:
    """An error naming the field (Chinese label) and the rule."""
    return ValidationError(f"{label(field)}：{what}", field=field, reason=reason)


def _half_width(value: str) -> str:
    """Full-width digits, letters and punctuation to half-width, spaces removed."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def validate_money(value: Any, field: str = "cumulative_amount") -> Decimal:
    """An amount in 元: >= 0, at most two decimals; accepts ``１２,３４５.６ 元``."""
    if isinstance(value, bool):
        raise fail(field, "money_format", "须为不小于0的金额（元），最多两位小数")
    text = _half_width(str(value)).replace(",", "").removesuffix("元")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise fail(field, "money_format", "须为不小于0的金额（元），最多两位小数")
    if amount != amount.quantize(_CENT):
        raise fail(field, "money_format", "须为不小于0的金额（元），最多两位小数")
    return amount.quantize(_CENT)


def validate_count(value: Any, field: str = "complaint_count") -> int:
    """A whole number >= 0; accepts full-width digits."""
    text = _half_width(str(value)) if not isinstance(value, bool) else "x"
    if not text.isdigit():
        raise fail(field, "count_format", "须为不小于0的整数")
    return int(text)


def validate_satisfaction(value: Any, field: str = "satisfaction") -> int:
    """服务满意度: a whole number from 1 to 5; accepts full-width digits."""
    text = _half_width(str(value)) if not isinstance(value, bool) else "x"
    if not text.isdigit() or not 1 <= int(text) <= 5:
        raise fail(field, "satisfaction_range", "须为1到5的整数")
    return int(text)


def _relabel(field: str, check: Callable[[], Any]) -> Any:
    """Run a shared check and give its error this module's label and colon style."""
    try:
        return check()
    except ValidationError as e:
        what = e.message.removeprefix(field_label(field)).lstrip("：: ")
        raise fail(field, e.reason, what) from e


def validate_option_list(field: str, values: Any, options: Iterable[str]) -> list[str]:
    """A multi-select: a list (or a string split on 、,，/ and spaces) of known options."""
    if isinstance(values, str):
        text = unicodedata.normalize("NFKC", values)
        for sep in "、,/;；":
            text = text.replace(sep, " ")
        values = text.split()
    allowed = tuple(options)
    out: list[str] = []
    for value in values or ():
        item = _relabel(field, lambda v=value: validate_option(field, str(v), allowed))
        if item not in out:
            out.append(item)
    return out


def half_width_date(value: Any) -> Any:
    """A typed date with full-width digits and spaces made half-width (２０１５-０３-１２)."""
    return _half_width(value) if isinstance(value, str) else value


def _date_check(field: str) -> Callable[[Any], date]:
    return lambda v: _relabel(
        field,
        lambda: validate_date(
            half_width_date(v), field, earliest=date(1900, 1, 1), latest=date(2100, 1, 1)
        ),
    )


def extra_field_checks(taxonomy: Taxonomy) -> dict[str, Callable[[Any], Any]]:
    """Checks for the fields of this module, keyed by field name."""
    checks: dict[str, Callable[[Any], Any]] = {
        "first_cooperation_date": _date_check("first_cooperation_date"),
        "latest_cooperation_date": _date_check("latest_cooperation_date"),
        "last_service_date": _date_check("last_service_date"),
        "cumulative_amount": validate_money,
        "complaint_count": validate_count,
        "satisfaction": validate_satisfaction,
        "decision_roles": lambda v: validate_option_list(
            "decision_roles", v, taxonomy.options.get("decision_role", ())
        ),
        "campaigns": lambda v: (
            [str(x).strip() for x in (v or []) if str(x).strip()]
            if not isinstance(v, str)
            else [x for x in v.replace("、", ",").split(",") if x.strip()]
        ),
    }
    for name, key in OPTION_KEYS.items():
        options = taxonomy.options.get(key, ())
        checks[name] = lambda v, n=name, o=options: _relabel(n, lambda: validate_option(n, v, o))
    return checks


def check_cooperation_dates(values: dict[str, Any]) -> None:
    """首次合作时间 must not be after 最近合作日期."""
    first, latest = values.get("first_cooperation_date"), values.get("latest_cooperation_date")
    if first and latest and first > latest:
        raise fail("latest_cooperation_date", "date_order", "不能早于首次合作时间")


# --- value tier (价值层级) ----------------------------------------------------------------------

#: Default thresholds in 元 a year (issue 15 item 4): (tier, lowest annual amount), highest first.
DEFAULT_TIERS: tuple[tuple[str, Decimal], ...] = (
    ("高价值", Decimal("500000")),
    ("中价值", Decimal("100000")),
    ("普通", Decimal("0")),
)
#: The level a tier gives when the level follows the tier.
DEFAULT_TIER_LEVELS = {"高价值": "A类大客户", "中价值": "B类中小客户", "普通": "C类小客户"}


def value_tier(
    annual_amount: Decimal | None, tiers: tuple[tuple[str, Decimal], ...] = DEFAULT_TIERS
) -> str | None:
    """The tier of an annual amount: the first whose threshold it reaches (None: no amount)."""
    if annual_amount is None:
        return None
    for tier, lowest in tiers:
        if annual_amount >= lowest:
            return tier
    return tiers[-1][0]
