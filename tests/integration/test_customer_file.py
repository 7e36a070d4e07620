"""The customer file's parts on SQLite and PostgreSQL: contacts, follow-ups, cooperation totals,
level overrides, tags (limit, merge, filter, report) and who may touch what."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session, select

from archive import contacts, cooperations, customers, followups, tags, tiers
from archive.customer_query import CustomerFilter, list_customers
from archive.permissions import PermissionDeniedError
from archive.users import create_user
from config.clock import china_date
from config.settings import load_settings
from models.audit import AuditEvent
from models.repo import ConflictError, NotFoundError, ValidationError
from tests.fixtures.db import make_uscc

RELATIONSHIP = {
    "contact_person": "张经理",
    "phone": "13800138000",
    "level": "C类小客户",
    "industry": "制造业",
}


def _enterprise(name: str, n: int, **more: object) -> dict:
    return {
        "name": name,
        "customer_type": "企业客户",
        "uscc": make_uscc(n),
        "legal_representative": "王五",
        "established_date": "2015-03-12",
        "address": "北京市海淀区中关村大街1号",
        **more,
    }


@pytest.fixture
def people(session: Session):
    sales = create_user(session, username="s1", password="secret-pw1", role="sales", actor="t")
    other = create_user(session, username="s2", password="secret-pw2", role="sales", actor="t")
    admin = create_user(session, username="a1", password="secret-pw3", role="admin", actor="t")
    session.commit()
    return sales, other, admin


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_contacts_validate_audit_and_stay_with_the_owner(session, people):
    sales, other, _ = people
    settings = load_settings()
    customer, _ = customers.create_customer(session, settings, sales, _enterprise("甲公司", 1))
    first = contacts.add_contact(
        session,
        settings,
        sales,
        customer.code,
        {"name": " 李四 ", "mobile": "１３８ ００１３ ８０００", "office_phone": "（010）12345678",
         "wechat": "li_si_2024", "is_primary": True, "communication_preference": "微信"},
    )  # fmt: skip
    assert (first.mobile, first.office_phone) == ("13800138000", "010-12345678")
    second = contacts.add_contact(
        session, settings, sales, customer.code, {"name": "赵六", "is_primary": "是"}
    )
    session.refresh(first)
    assert second.is_primary and not first.is_primary  # one primary contact
    with pytest.raises(ValidationError, match="手机：须为11位手机号") as e:
        contacts.add_contact(
            session, settings, sales, customer.code, {"name": "x", "mobile": "010-12345678"}
        )
    assert e.value.field == "mobile"
    with pytest.raises(ValidationError, match="沟通偏好"):
        contacts.edit_contact(
            session, settings, sales, first.id, {"communication_preference": "飞鸽"}
        )
    edited = contacts.edit_contact(
        session, settings, sales, first.id, {"title": "采购经理", "wechat": None}
    )
    assert edited.title == "采购经理" and edited.wechat is None
    update = _events(session, "contact.update")[-1]
    assert update.before == {"title": None, "wechat": "li_si_2024"}
    assert update.after == {"title": "采购经理", "wechat": None}
    for attempt in (
        lambda: contacts.list_contacts(session, other, customer.code),
        lambda: contacts.edit_contact(session, settings, other, first.id, {"title": "x"}),
        lambda: contacts.remove_contact(session, other, first.id),
    ):
        with pytest.raises(NotFoundError):
            attempt()
    contacts.remove_contact(session, sales, second.id)
    assert [c.name for c in contacts.list_contacts(session, sales, customer.code)] == ["李四"]
    assert _events(session, "contact.delete")[-1].before["name"] == "赵六"


def test_follow_up_log_sets_the_customer_follow_up_status(session, people):
    sales, other, _ = people
    settings = load_settings()
    customer, _ = customers.create_customer(session, settings, sales, _enterprise("乙公司", 2))
    entry, customer = followups.add_follow_up(
        session, settings, sales, customer.code,
        {"content": "电话沟通", "channel": "电话", "status": "谈判中",
         "followed_at": "２０２６-１１-０２ 09:30", "next_date": "2026-11-20"},
    )  # fmt: skip
    assert entry.followed_by == "s1" and entry.followed_at.hour == 1  # 09:30 China = 01:30 UTC
    assert customer.follow_up_status == "谈判中" and customer.version == 2
    older, customer = followups.add_follow_up(
        session, settings, sales, customer.code,
        {"content": "补记", "status": "初次接洽", "followed_at": "2026-10-01"},
    )  # fmt: skip
    assert customer.follow_up_status == "谈判中"  # an older entry does not change the status
    listed = followups.list_follow_ups(session, sales, customer.code)
    assert [f.id for f in listed] == [entry.id, older.id]
    with pytest.raises(ValidationError, match="跟进内容：不能为空"):
        followups.add_follow_up(session, settings, sales, customer.code, {"content": " "})
    with pytest.raises(ValidationError, match="跟进方式"):
        followups.add_follow_up(
            session, settings, sales, customer.code, {"content": "x", "channel": "飞鸽"}
        )
    with pytest.raises(NotFoundError):
        followups.list_follow_ups(session, other, customer.code)


def test_cooperation_totals_tier_and_level_follow_unless_set_by_hand(session, people):
    _, _, admin = people
    settings = load_settings()
    customer, _ = customers.create_customer(
        session,
        settings,
        admin,
        _enterprise("丙公司", 3, status="意向客户", owner_id=admin.id, **RELATIONSHIP),
    )
    today = china_date()
    year_ago = today.replace(year=today.year - 2)
    _, customer = cooperations.add_cooperation(
        session, settings, admin, customer.code,
        {"name": "旧合同", "signed_date": year_ago.isoformat(), "amount": "８０，０００.５０"},
    )  # fmt: skip
    assert customer.cumulative_amount == Decimal("80000.50")
    assert customer.annual_amount == Decimal("0.00") and customer.value_tier == "普通"
    record, customer = cooperations.add_cooperation(
        session, settings, admin, customer.code,
        {"name": "年度采购", "contract_no": "HT-2026-01", "signed_date": today.isoformat(),
         "amount": "600000", "status": "已签约"},
    )  # fmt: skip
    assert customer.cumulative_amount == Decimal("680000.50")
    assert (customer.first_cooperation_date, customer.latest_cooperation_date) == (year_ago, today)
    assert customer.value_tier == "高价值" and customer.level == "A类大客户"
    derive = _events(session, "customer.derive")[-1]
    assert derive.before["cumulative_amount"] == "80000.50"
    assert derive.after["cumulative_amount"] == "680000.50"
    # A total typed by hand stays when records change; clearing it follows the records again.
    customer = customers.edit_customer(
        session, settings, admin, customer.code, {"cumulative_amount": "1,000,000"},
        version=customer.version,
    )  # fmt: skip
    assert customer.manual_fields == ["cumulative_amount"]
    _, customer = cooperations.edit_cooperation(
        session, settings, admin, record.id, {"amount": "100000"}
    )
    assert customer.cumulative_amount == Decimal("1000000.00") and customer.value_tier == "中价值"
    assert customer.level == "B类中小客户"
    customer = customers.edit_customer(
        session, settings, admin, customer.code, {"cumulative_amount": ""}, version=customer.version
    )
    assert customer.cumulative_amount == Decimal("180000.50") and customer.manual_fields == []
    with pytest.raises(ValidationError, match="到期日期：不能早于生效日期"):
        cooperations.add_cooperation(
            session, settings, admin, customer.code,
            {"name": "x", "effective_date": "2026-01-02", "expiry_date": "2026-01-01"},
        )  # fmt: skip
    with pytest.raises(ValidationError, match="合同金额"):
        cooperations.add_cooperation(
            session, settings, admin, customer.code, {"name": "x", "amount": "-1"}
        )


def test_level_override_needs_a_reason_and_is_kept(session, people):
    _, _, admin = people
    settings = load_settings()
    customer, _ = customers.create_customer(
        session,
        settings,
        admin,
        _enterprise("丁公司", 4, status="意向客户", owner_id=admin.id, **RELATIONSHIP),
    )
    _, customer = cooperations.add_cooperation(
        session, settings, admin, customer.code,
        {"name": "合同", "signed_date": china_date().isoformat(), "amount": "600000"},
    )  # fmt: skip
    assert customer.level == "A类大客户"
    with pytest.raises(ValidationError, match="须填写调整原因") as e:
        customers.edit_customer(
            session,
            settings,
            admin,
            customer.code,
            {"level": "B类中小客户"},
            version=customer.version,
        )
    assert e.value.field == "level_reason"
    customer = customers.edit_customer(
        session, settings, admin, customer.code,
        {"level": "B类中小客户", "level_reason": "集团统一定级"}, version=customer.version,
    )  # fmt: skip
    assert (customer.level, customer.level_reason) == ("B类中小客户", "集团统一定级")
    assert "level" in customer.manual_fields
    _, customer = cooperations.add_cooperation(
        session, settings, admin, customer.code,
        {"name": "追加", "signed_date": china_date().isoformat(), "amount": "1"},
    )  # fmt: skip
    assert customer.level == "B类中小客户"  # the override holds
    customer = customers.edit_customer(
        session, settings, admin, customer.code, {"level": ""}, version=customer.version
    )
    assert (customer.level, customer.level_reason) == ("A类大客户", None)
    audit = [e for e in _events(session, "customer.derive") if "level_reason" in (e.after or {})]
    assert any(e.after["level_reason"] == "集团统一定级" for e in audit)


def test_tags_limit_merge_retire_filter_and_report(session, people):
    sales, other, admin = people
    settings = load_settings()
    for name in ("制造业", "高价值", "成交客户", "华东", "重点", "VIP", "老客户"):
        tags.add_tag(session, admin, name)
    with pytest.raises(PermissionDeniedError):
        tags.add_tag(session, sales, "自己加的")
    with pytest.raises(ConflictError):
        tags.add_tag(session, admin, " 制造业 ")
    a, _ = customers.create_customer(
        session, settings, sales, _enterprise("戊公司", 5, industry="制造业")
    )
    b, _ = customers.create_customer(session, settings, admin, _enterprise("己公司", 6))
    assert tags.tag_customer(session, sales, a.code, ["制造业", "高价值", "华东", "重点", "VIP"])
    with pytest.raises(ValidationError, match="最多5个标签"):
        tags.tag_customer(session, sales, a.code, ["老客户"])
    with pytest.raises(NotFoundError):
        tags.tag_customer(session, other, a.code, ["老客户"])
    tags.tag_customer(session, admin, b.code, ["制造业", "成交客户"])
    # Filter: tags combine with AND, the viewer's visibility holds.
    both = CustomerFilter(tags=["制造业", "高价值"])
    assert [c.code for c in list_customers(session, admin, both)[0]] == [a.code]
    assert list_customers(session, other, both) == ([], 0)
    only = CustomerFilter(tags=["制造业"], status="prospect")
    assert {c.code for c in list_customers(session, admin, only)[0]} == {a.code, b.code}
    assert list_customers(session, admin, CustomerFilter(tags=["不存在"])) == ([], 0)
    # Merge: a customer with both keeps one, a customer with only the source gets the target.
    kept, moved = tags.merge_tags(session, admin, "重点", "老客户")
    assert moved == 1 and [t.name for t in tags.customer_tags(session, admin, a.code)] == [
        "VIP", "制造业", "华东", "老客户", "高价值"
    ]  # fmt: skip
    assert "重点" not in {t.name for t, _ in tags.list_tags(session)}
    tags.merge_tags(session, admin, "VIP", "老客户")  # a has both: one is dropped
    assert len(tags.customer_tags(session, admin, a.code)) == 4
    tags.retire_tag(session, admin, "华东")
    with pytest.raises(ValidationError, match="已停用"):
        tags.tag_customer(session, admin, b.code, ["华东"])
    tags.rename_tag(session, admin, "老客户", "长期客户")
    assert "长期客户" in {t.name for t in tags.customer_tags(session, admin, a.code)}
    customers.edit_customer(
        session, settings, admin, b.code, {"industry": "金融"}, version=b.version
    )
    tags.add_tag(session, admin, "冷门")
    report = tags.tag_report(session, settings, admin)
    assert report.total_customers == 2
    assert report.rare == [{"tag": "冷门", "customers": 0, "share": 0.0}]  # retired 华东 not listed
    found = {(c["customer"], c["tag"], c["field"]) for c in report.contradictions}
    # b: tag 成交客户 on a 潜在客户, tag 制造业 on a 金融 customer; a has no tier yet (no records).
    assert found == {(b.code, "成交客户", "status"), (b.code, "制造业", "industry")}
    with pytest.raises(PermissionDeniedError):
        tags.tag_report(session, settings, sales)
    assert [e.before for e in _events(session, "tag.rename")] == [{"name": "老客户"}]


def test_tier_thresholds_are_settings_and_refresh_tiers_applies_them(session, people):
    _, _, admin = people
    settings = load_settings()
    customer, _ = customers.create_customer(session, settings, admin, _enterprise("庚公司", 7))
    _, customer = cooperations.add_cooperation(
        session, settings, admin, customer.code,
        {"name": "合同", "signed_date": china_date().isoformat(), "amount": "200000"},
    )  # fmt: skip
    assert (customer.value_tier, customer.level) == ("中价值", "B类中小客户")
    assert tiers.refresh_tiers(session, settings) == 0  # nothing moved
    cheaper = load_settings(tier_high_min=Decimal("150000"))
    assert tiers.refresh_tiers(session, cheaper, actor="nightly") == 1
    session.refresh(customer)
    assert (customer.value_tier, customer.level) == ("高价值", "A类大客户")
    fixed = load_settings(tier_high_min=Decimal("150000"), level_follows_tier=False)
    customer = customers.edit_customer(
        session, fixed, admin, customer.code, {"level": "C类小客户"}, version=customer.version
    )  # no reason needed when the level does not follow the tier
    assert customer.level == "C类小客户" and customer.manual_fields == []


def test_concurrent_taggers_cannot_pass_the_limit_together(engine, people):
    import threading
    import time

    _, _, admin = people
    settings = load_settings()
    with Session(engine, expire_on_commit=False) as setup:
        for n in range(6):
            tags.add_tag(setup, admin, f"并发{n}")
        customer, _ = customers.create_customer(setup, settings, admin, _enterprise("辛公司", 8))
        setup.commit()
    outcome: dict[str, object] = {}

    def second() -> None:
        with Session(engine, expire_on_commit=False) as other:
            try:
                outcome["added"] = tags.tag_customer(
                    other, admin, customer.code, ["并发3", "并发4", "并发5"]
                )
                other.commit()
            except ValidationError as e:
                outcome["error"] = e.message

    with Session(engine, expire_on_commit=False) as first:
        tags.tag_customer(first, admin, customer.code, ["并发0", "并发1", "并发2"])
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(1.0)  # the second tagger now waits for the customer's row (or SQLite's lock)
        first.commit()
    thread.join(timeout=60)
    assert "最多5个标签" in str(outcome.get("error")), outcome
    with Session(engine) as check:
        assert len(tags.customer_tags(check, admin, customer.code)) == 3
