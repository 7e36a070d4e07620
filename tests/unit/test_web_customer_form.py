"""The customer form's pure helpers: every field's error at once, and merging a stale edit."""

from __future__ import annotations

from config.taxonomy import load_taxonomy
from web.customer_form import collect_errors, merge_stale, parse_original

NAMES = ("name", "contact_person", "email", "notes")


def test_collect_errors_reports_formats_and_every_missing_required_field() -> None:
    errors = collect_errors(
        {
            "name": "某某科技有限公司",
            "customer_type": "enterprise",
            "status": "won",
            "phone": "123",
            "email": "bad",
            "satisfaction": "7",
            "uscc": "",
        },
        load_taxonomy(),
    )
    assert errors["phone"].startswith("联系方式") and errors["email"].startswith("电子邮箱")
    assert errors["satisfaction"] == "服务满意度：须为1到5的整数"
    for name in (
        "uscc",
        "legal_representative",
        "established_date",
        "address",
        "contact_person",
        "industry",
        "level",
        "owner_id",
    ):
        assert errors[name].endswith("不能为空"), name
    assert errors["owner_id"] == "负责人不能为空"
    assert "phone" in errors and not errors["phone"].endswith("不能为空")


def test_collect_errors_is_empty_for_a_valid_prospect() -> None:
    values = {"name": "张三", "customer_type": "individual", "id_number": "11010519491231002X"}
    assert collect_errors(values, load_taxonomy()) == {}


def test_merge_takes_their_untouched_fields_and_flags_fields_both_changed() -> None:
    original = {"name": "甲", "contact_person": "", "email": "", "notes": "旧"}
    current = {"name": "甲", "contact_person": "孙", "email": "sun@x.cn", "notes": "旧"}
    mine = {"name": "甲", "contact_person": "周", "email": "", "notes": "新"}
    merged, rows = merge_stale(mine, original, current, NAMES, masked={})
    assert merged == {"name": "甲", "contact_person": "周", "email": "sun@x.cn", "notes": "新"}
    assert [(r["label"], r["conflict"]) for r in rows] == [("联系人", True), ("电子邮箱", False)]


def test_merge_without_the_original_shows_every_difference_and_keeps_the_input() -> None:
    current = {"name": "甲", "contact_person": "孙", "email": "", "notes": "旧"}
    mine = {"name": "甲", "contact_person": "周", "email": "", "notes": "新"}
    merged, rows = merge_stale(mine, parse_original("{broken"), current, NAMES, masked={})
    assert merged == mine
    assert [r["label"] for r in rows] == ["联系人", "备注"] and all(r["conflict"] for r in rows)
