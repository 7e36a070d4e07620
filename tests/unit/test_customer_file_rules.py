"""Validation of contacts, follow-ups, cooperation records and tag names; derived totals.

Every rule with good and bad values, typed both ways (full-width digits, spaces, 全角括号).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from models.contact import ContactCreate, validate_contact_values
from models.cooperation import (
    Cooperation,
    check_cooperation_order,
    derive_totals,
    validate_cooperation_values,
)
from models.customer_fields import value_tier
from models.followup import validate_follow_up_values
from models.tag import validate_tag_name
from models.validation import ValidationError


def _error(fn, *args, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as e:
        fn(*args, **kw)
    return e.value


@pytest.mark.parametrize(
    ("field", "raw", "clean"),
    [
        ("mobile", "１３８００１３８０００", "13800138000"),
        ("mobile", "138 0013 8000", "13800138000"),
        ("mobile", "+86 138-0013-8000", "13800138000"),
        ("office_phone", "（０１０）１２３４５６７８", "010-12345678"),
        ("office_phone", "021-87654321转123", "021-87654321-123"),
        ("office_phone", "13800138000", "13800138000"),
        ("email", "Li.Si@Example.COM", "Li.Si@example.com"),
        ("email", "ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ", "li@example.com"),
        ("wechat", "li_si-2024", "li_si-2024"),
        ("wechat", "１３８００１３８０００", "13800138000"),
        ("gender", "女", "女"),
        ("communication_preference", " 微信 ", "微信"),
        ("relationship_level", "密切", "密切"),
        ("is_primary", "是", True),
        ("is_decision_maker", "否", False),
    ],
)
def test_contact_good_values(field: str, raw: str, clean: object) -> None:
    assert validate_contact_values({"name": "李四", field: raw})[field] == clean


@pytest.mark.parametrize(
    ("field", "raw", "words"),
    [
        ("mobile", "010-12345678", "手机：须为11位手机号"),
        ("mobile", "1280013800", "手机：须为11位手机号"),
        ("office_phone", "12345", "办公电话：须为11位手机号或带区号的固话"),
        ("office_phone", "（０１０）１２３", "办公电话"),
        ("email", "li@", "电子邮箱：格式错误"),
        ("wechat", "12ab", "微信：须为6-20位"),
        ("gender", "未知", "性别：选项“未知”无效"),
        ("relationship_level", "亲密无间", "关系程度"),
        ("is_primary", "也许", "主要联系人：须为“是”或“否”"),
        ("name", "　", "联系人姓名：不能为空"),
        ("nickname", "x", "不是联系人的字段"),
    ],
)
def test_contact_bad_values_name_field_and_rule(field: str, raw: str, words: str) -> None:
    values = {"name": "李四", field: raw}
    error = _error(validate_contact_values, values)
    assert words in error.message and error.field == field


def test_contact_create_keeps_legacy_phones_and_drops_blanks() -> None:
    contact = ContactCreate.model_validate({"name": "李四", "phones": ["", "（010）12345678"]})
    assert contact.phones == ["010-12345678"] and contact.email is None


def test_follow_up_rules() -> None:
    out = validate_follow_up_values(
        {"content": " 上门 ", "channel": "上门拜访", "followed_at": "２０２６-０３-０１ ０９:００"}
    )
    assert out["content"] == "上门"
    assert out["followed_at"] == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    assert validate_follow_up_values({"content": "x", "next_date": "２０２６-０４-０１"})[
        "next_date"
    ] == date(2026, 4, 1)
    assert "跟进内容：不能为空" in _error(validate_follow_up_values, {"content": ""}).message
    assert (
        "跟进时间"
        in _error(validate_follow_up_values, {"content": "x", "followed_at": "明天"}).message
    )
    assert (
        "下次跟进日期"
        in _error(validate_follow_up_values, {"content": "x", "next_date": "2026/04/01"}).message
    )
    assert (
        "跟进状态" in _error(validate_follow_up_values, {"content": "x", "status": "搁置"}).message
    )


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("１２，３４５.６ 元", Decimal("12345.60")),
        ("600000", Decimal("600000.00")),
        ("0", Decimal("0.00")),
    ],
)
def test_cooperation_amounts(raw: str, amount: Decimal) -> None:
    assert validate_cooperation_values({"name": "合同", "amount": raw})["amount"] == amount


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"amount": "-5"}, "合同金额：须为不小于0的金额"),
        ({"amount": "1.005"}, "合同金额"),
        ({"amount": "一万"}, "合同金额"),
        ({"signed_date": "2026-02-30"}, "签订日期"),
        ({"expiry_date": "1800-01-01"}, "到期日期"),
        ({"status": "黄了"}, "合作状态：选项“黄了”无效"),
        ({"name": " "}, "合同名称：不能为空"),
    ],
)
def test_cooperation_bad_values(values: dict, words: str) -> None:
    assert words in _error(validate_cooperation_values, {"name": "合同", **values}).message


def test_cooperation_dates_in_full_width_and_order() -> None:
    out = validate_cooperation_values(
        {"name": "合同", "signed_date": "２０２６-０１-０５", "expiry_date": "2027-01-04"}
    )
    assert out["signed_date"] == date(2026, 1, 5)
    check_cooperation_order(out)
    out["expiry_date"] = date(2026, 1, 1)
    assert "到期日期：不能早于签订日期" in _error(check_cooperation_order, out).message


def _record(signed: date | None, amount: str) -> Cooperation:
    return Cooperation(
        customer_id=1, name="x", signed_date=signed, amount=Decimal(amount), created_by="t",
        updated_by="t",
    )  # fmt: skip


def test_derived_totals_count_signed_records_and_the_last_365_days() -> None:
    today = date(2026, 12, 6)
    records = [
        _record(date(2024, 5, 1), "100000.50"),
        _record(date(2026, 1, 1), "450000"),
        _record(date(2026, 12, 6), "60000"),
        _record(None, "999999"),  # not signed: does not count
    ]
    totals = derive_totals(records, today=today)
    assert totals.cumulative_amount == Decimal("610000.50")
    assert (totals.first_cooperation_date, totals.latest_cooperation_date) == (
        date(2024, 5, 1), date(2026, 12, 6),
    )  # fmt: skip
    assert totals.annual_amount == Decimal("510000.00")
    assert value_tier(totals.annual_amount) == "高价值"
    assert derive_totals([_record(None, "1")], today=today).cumulative_amount is None


@pytest.mark.parametrize(
    ("raw", "name"),
    [(" 高 价值 ", "高 价值"), ("ＶＩＰ", "VIP"), ("制造业（华东）", "制造业(华东)")],
)
def test_tag_names_are_half_width(raw: str, name: str) -> None:
    assert validate_tag_name(raw) == name


@pytest.mark.parametrize(("raw", "words"), [("", "不能为空"), ("a、b", "顿号"), ("x" * 33, "32")])
def test_bad_tag_names(raw: str, words: str) -> None:
    error = _error(validate_tag_name, raw)
    assert error.message.startswith("标签名称：") and words in error.message
