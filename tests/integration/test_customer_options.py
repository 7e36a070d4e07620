"""Issue 15, the rest: the create audit holds every field group, cooperation records are edited
and removed with the totals following, and admins edit option lists that validation then uses
(retired options stay valid on the records holding them). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from archive import contacts, cooperations, customers, option_lists
from archive.permissions import PermissionDeniedError
from archive.users import create_user
from config.clock import china_date
from config.settings import load_settings
from models import repo
from models.audit import AuditEvent
from models.customer import CustomerCreate, customer_audit_fields
from models.customer_fields import GROUPS
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
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(session.exec(query).all())


def test_the_audited_field_set_covers_every_group_and_input_field() -> None:
    audited = customer_audit_fields()
    assert len(audited) == len(set(audited))
    grouped = {f for fields in GROUPS.values() for f in fields} - {"updated_at"}
    assert grouped <= set(audited)
    assert set(CustomerCreate.model_fields) <= set(audited)
    assert {"code", "value_tier", "annual_amount", "manual_fields", "level_reason"} <= set(audited)
    assert repo.CUSTOMER_AUDIT_FIELDS == audited


def test_customer_create_audit_records_every_field_group(session, people):
    _, _, admin = people
    values = _enterprise(
        "全字段公司",
        1,
        status="成交客户",
        owner_id=admin.id,
        scale="中小企业",
        region="华东",
        source_channel="展会推广",
        email="buy@example.com",
        notes="重点跟进",
        first_cooperation_date="2020-01-02",
        latest_cooperation_date="2026-01-02",
        cumulative_amount="１２,３４５.６",
        decision_roles="决策人、采购者",
        follow_up_status="谈判中",
        complaint_count="２",
        complaint_type="价格",
        last_service_date="2026-02-03",
        satisfaction="4",
        campaigns="春季展会,年终答谢",
        **RELATIONSHIP,
    )
    customer, _ = customers.create_customer(session, load_settings(), admin, values)
    [event] = _events(session, "customer.create")
    after = event.after
    for group, fields in GROUPS.items():
        for name in fields:
            if name != "updated_at":
                assert name in after, (group, name)
    assert after["code"] == customer.code
    assert after["cumulative_amount"] == "12345.60"
    assert after["decision_roles"] == ["决策人", "采购者"]
    assert after["campaigns"] == ["春季展会", "年终答谢"]
    assert after["satisfaction"] == 4 and after["complaint_count"] == 2
    assert after["first_cooperation_date"] == "2020-01-02"
    assert (after["follow_up_status"], after["complaint_type"]) == ("谈判中", "价格")
    assert after["last_service_date"] == "2026-02-03" and after["notes"] == "重点跟进"


def test_cooperation_records_are_edited_and_removed_with_the_totals_following(session, people):
    sales, other, _ = people
    settings = load_settings()
    customer, _ = customers.create_customer(session, settings, sales, _enterprise("乙公司", 2))
    today = china_date()
    early = today - timedelta(days=400)
    first, customer = cooperations.add_cooperation(
        session, settings, sales, customer.code,
        {"name": "首单", "signed_date": early.isoformat(), "amount": "50000"},
    )  # fmt: skip
    second, customer = cooperations.add_cooperation(
        session, settings, sales, customer.code,
        {"name": "续约", "signed_date": today.isoformat(), "amount": "600000", "status": "已签约"},
    )  # fmt: skip
    assert customer.cumulative_amount == Decimal("650000.00") and customer.value_tier == "高价值"
    _, customer = cooperations.edit_cooperation(
        session, settings, sales, second.id, {"amount": "150000", "status": "执行中"}
    )
    assert customer.cumulative_amount == Decimal("200000.00") and customer.value_tier == "中价值"
    for attempt in (
        lambda: cooperations.edit_cooperation(session, settings, other, second.id, {"name": "x"}),
        lambda: cooperations.remove_cooperation(session, settings, other, second.id),
        lambda: cooperations.get_cooperation(session, other, second.id),
    ):
        with pytest.raises(NotFoundError, match="合作记录"):
            attempt()
    removed, customer = cooperations.remove_cooperation(session, settings, sales, second.id)
    assert removed.name == "续约"
    assert customer.cumulative_amount == Decimal("50000.00")
    assert (customer.first_cooperation_date, customer.latest_cooperation_date) == (early, early)
    assert customer.annual_amount == Decimal("0.00") and customer.value_tier == "普通"
    delete = _events(session, "cooperation.delete")[-1]
    assert delete.before["name"] == "续约" and delete.before["amount"] == "150000.00"
    assert delete.before["customer"] == customer.code
    # The last record gone: totals that followed the records are cleared, not kept.
    _, customer = cooperations.remove_cooperation(session, settings, sales, first.id)
    assert customer.cumulative_amount is None and customer.first_cooperation_date is None
    assert customer.value_tier is None
    assert cooperations.list_cooperations(session, sales, customer.code) == []
    # A total typed by hand stays when records go.
    customer = customers.edit_customer(
        session, settings, sales, customer.code, {"cumulative_amount": "888"},
        version=customer.version,
    )  # fmt: skip
    record, customer = cooperations.add_cooperation(
        session, settings, sales, customer.code,
        {"name": "小单", "signed_date": today.isoformat(), "amount": "10"},
    )  # fmt: skip
    _, customer = cooperations.remove_cooperation(session, settings, sales, record.id)
    assert customer.cumulative_amount == Decimal("888.00")


def test_admins_edit_option_lists_and_validation_uses_them(session, people):
    sales, _, admin = people
    settings = load_settings()
    with pytest.raises(PermissionDeniedError):
        option_lists.add_option(session, settings, sales, "industry", "新能源")
    with pytest.raises(NotFoundError, match="不可编辑"):
        option_lists.add_option(session, settings, admin, "customer_type", "机构客户")
    with pytest.raises(ValidationError, match="所属行业"):
        customers.create_customer(
            session, settings, sales, _enterprise("丙公司", 3, industry="新能源")
        )
    option_lists.add_option(session, settings, admin, "industry", " 新能源 ")
    option_lists.add_option(session, settings, admin, "decision_role", "技术把关")
    [added] = _events(session, "option.add")[:1]
    assert added.entity_id == "industry" and added.after == {"list": "industry", "value": "新能源"}
    with pytest.raises(ConflictError, match="已存在"):
        option_lists.add_option(session, settings, admin, "industry", "新能源")
    with pytest.raises(ValidationError, match="选项：不能包含"):
        option_lists.add_option(session, settings, admin, "industry", "a/b")
    more = {**RELATIONSHIP, "industry": "新能源", "decision_roles": "技术把关"}
    fresh, _ = customers.create_customer(
        session, settings, sales, _enterprise("丙公司", 3, **more, status="意向客户")
    )
    old, _ = customers.create_customer(
        session, settings, sales, _enterprise("丁公司", 4, **RELATIONSHIP, status="意向客户")
    )
    contact = contacts.add_contact(
        session, settings, sales, old.code, {"name": "周七", "communication_preference": "短信"}
    )
    # Rename: the records holding the old text follow, in the same transaction.
    item, changed = option_lists.rename_option(
        session, settings, admin, "industry", "新能源", "新能源汽车"
    )
    assert item.value == "新能源汽车" and changed == 1
    session.refresh(fresh)
    assert fresh.industry == "新能源汽车"
    _, changed = option_lists.rename_option(
        session, settings, admin, "decision_role", "技术把关", "技术负责人"
    )
    session.refresh(fresh)
    assert changed == 1 and fresh.decision_roles == ["技术负责人"]
    rename = _events(session, "option.rename")[0]
    assert rename.before == {"list": "industry", "value": "新能源"}
    assert rename.after["records_changed"] == 1
    # Retire: not offered, refused on new values, still valid on the records holding it.
    option_lists.retire_option(session, settings, admin, "industry", "制造业", retired=True)
    option_lists.retire_option(
        session, settings, admin, "communication_preference", "短信", retired=True
    )
    offered = repo.options_in_effect(session, settings.taxonomy)
    assert "制造业" not in offered.options["industry"]
    assert offered.options["industry"][-1] == "新能源汽车"
    assert (
        "制造业"
        in repo.options_in_effect(session, settings.taxonomy, include_retired=True).options[
            "industry"
        ]
    )
    with pytest.raises(ValidationError, match="所属行业"):
        customers.create_customer(
            session, settings, admin, _enterprise("戊公司", 5, **RELATIONSHIP, status="意向客户",
                                                  owner_id=admin.id)
        )  # fmt: skip
    edited = customers.edit_customer(
        session, settings, sales, old.code, {"notes": "老客户"}, version=old.version
    )
    assert edited.industry == "制造业" and edited.notes == "老客户"
    with pytest.raises(ValidationError, match="所属行业"):
        customers.edit_customer(
            session, settings, sales, fresh.code, {"industry": "制造业"}, version=fresh.version
        )
    edited_contact = contacts.edit_contact(session, settings, sales, contact.id, {"title": "经理"})
    assert edited_contact.communication_preference == "短信"
    with pytest.raises(ValidationError, match="沟通偏好"):
        contacts.add_contact(
            session, settings, sales, old.code, {"name": "吴八", "communication_preference": "短信"}
        )
    retire = _events(session, "option.retire")[0]
    assert retire.after == {"list": "industry", "value": "制造业", "is_retired": True}
    option_lists.retire_option(session, settings, admin, "industry", "制造业", retired=False)
    assert _events(session, "option.restore")[0].after["is_retired"] is False
    listed = {lst.key: lst for lst in option_lists.option_lists(session, settings, admin)}
    assert listed["industry"].label == "所属行业" and listed["industry"].edited
    counts = {o.value: o.records for o in listed["industry"].options}
    assert counts["制造业"] == 1 and counts["新能源汽车"] == 1
    assert not listed["region"].edited and listed["region"].options[0].value == "华东"
