"""Issue 15 item 1: the standard's business/service/marketing fields, good and bad values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from models.customer import validate_customer_values
from models.customer_fields import (
    GROUPS,
    validate_count,
    validate_money,
    validate_option_list,
    validate_satisfaction,
    value_tier,
)
from models.validation import ValidationError

BASE = {"name": "张三", "customer_type": "individual", "id_number": "11010519491231002X"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("500000", Decimal("500000.00")),
        ("５００，０００．５", Decimal("500000.50")),
        (" 12 345.67 元", Decimal("12345.67")),
        ("1,000", Decimal("1000.00")),
        (0, Decimal("0.00")),
        (Decimal("99.9"), Decimal("99.90")),
    ],
)
def test_money_good(raw, expected):
    assert validate_money(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "abc", "1.234", "NaN", "1e20", True, "１２元３"])
def test_money_bad_names_field_and_rule(raw):
    with pytest.raises(ValidationError) as e:
        validate_money(raw)
    assert e.value.message == "累计合作金额：须为不小于0的金额（元），最多两位小数"
    assert e.value.field == "cumulative_amount"


@pytest.mark.parametrize(("raw", "expected"), [("３", 3), (" 5 ", 5), (1, 1)])
def test_satisfaction_good(raw, expected):
    assert validate_satisfaction(raw) == expected


@pytest.mark.parametrize("raw", ["0", "６", "4.5", "很好", True])
def test_satisfaction_bad(raw):
    with pytest.raises(ValidationError, match="服务满意度：须为1到5的整数"):
        validate_satisfaction(raw)


def test_complaint_count():
    assert validate_count("１２") == 12
    with pytest.raises(ValidationError, match="投诉次数：须为不小于0的整数"):
        validate_count("-1")


def test_decision_roles_multi_select():
    options = ("决策人", "影响者", "使用者", "采购者")
    assert validate_option_list("decision_roles", "决策人、采购者，决策人", options) == [
        "决策人",
        "采购者",
    ]
    with pytest.raises(ValidationError, match="决策链角色：的选项“老板”无效") as e:
        validate_option_list("decision_roles", ["老板"], options)
    assert e.value.reason == "option_unknown"


def test_customer_values_take_new_fields():
    out, _ = validate_customer_values(
        {
            **BASE,
            "cumulative_amount": "１２００００",
            "follow_up_status": "谈判中",
            "complaint_type": "服务响应",
            "satisfaction": "４",
            "first_cooperation_date": "2024-01-02",
            "latest_cooperation_date": "2025-03-04",
            "decision_roles": ["决策人"],
        }
    )
    assert out["cumulative_amount"] == Decimal("120000.00")
    assert out["satisfaction"] == 4
    assert out["first_cooperation_date"] == date(2024, 1, 2)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("follow_up_status", "闲聊", "跟进状态：的选项“闲聊”无效"),
        ("complaint_type", "太贵了", "投诉类型：的选项“太贵了”无效"),
        ("last_service_date", "2024/13/01", "最近服务时间："),
    ],
)
def test_customer_values_refuse_bad(field, value, message):
    with pytest.raises(ValidationError) as e:
        validate_customer_values({**BASE, field: value})
    assert e.value.message.startswith(message)
    assert e.value.field == field


def test_cooperation_dates_in_order():
    with pytest.raises(ValidationError, match="最近合作日期：不能早于首次合作时间"):
        validate_customer_values(
            {
                **BASE,
                "first_cooperation_date": "2025-01-01",
                "latest_cooperation_date": "2024-01-01",
            }
        )


def test_groups_cover_the_standard():
    assert list(GROUPS) == [
        "basic",
        "contact",
        "classification",
        "business",
        "service",
        "marketing",
        "management",
    ]


def test_dates_accept_full_width_digits_and_spaces():
    out, _ = validate_customer_values(
        {
            **BASE,
            "last_service_date": "２０２５－０３－０４ ",
            "first_cooperation_date": " 2024-01-02",
        }
    )
    assert out["last_service_date"] == date(2025, 3, 4)
    assert out["first_cooperation_date"] == date(2024, 1, 2)


@pytest.mark.parametrize(
    ("amount", "tier"),
    [
        ("500000", "高价值"),
        ("499999.99", "中价值"),
        ("100000", "中价值"),
        ("99999.99", "普通"),
        ("0", "普通"),
    ],
)
def test_value_tier_thresholds(amount, tier):
    assert value_tier(Decimal(amount)) == tier
    assert value_tier(None) is None
