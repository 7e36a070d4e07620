"""archive.customers on SQLite and PostgreSQL: ownership, optimistic concurrency, similar names."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session, select

from archive import customers
from archive.permissions import PermissionDeniedError
from archive.users import create_user
from config.settings import load_settings
from models import repo
from models.audit import AuditEvent
from models.repo import ConflictError, NotFoundError
from tests.fixtures.db import make_uscc


def _enterprise(name: str, n: int) -> dict:
    return {
        "name": name,
        "customer_type": "企业客户",
        "uscc": make_uscc(n),
        "legal_representative": "王五",
        "established_date": "２０１５-03-12",
        "address": "北京市海淀区中关村大街1号",
    }


@pytest.fixture
def people(session: Session):
    sales = create_user(session, username="s1", password="secret-pw1", role="sales", actor="t")
    other = create_user(session, username="s2", password="secret-pw2", role="sales", actor="t")
    admin = create_user(session, username="a1", password="secret-pw3", role="admin", actor="t")
    session.commit()
    return sales, other, admin


def test_sales_create_owns_and_others_cannot_see(session, people):
    sales, other, admin = people
    settings = load_settings()
    customer, similar = customers.create_customer(
        session, settings, sales, _enterprise("北京某某科技有限公司", 1)
    )
    session.commit()
    assert customer.owner_id == sales.id and similar == []
    with pytest.raises(NotFoundError, match="不存在"):
        customers.get_visible(session, other, customer.code)
    assert customers.get_visible(session, admin, customer.code).code == customer.code
    with pytest.raises(PermissionDeniedError):
        customers.edit_customer(
            session, settings, sales, customer.code, {"owner_id": other.id}, version=1
        )


def test_similar_name_is_flagged(session, people):
    _, _, admin = people
    settings = load_settings()
    customers.create_customer(session, settings, admin, _enterprise("北京某某科技有限公司", 1))
    _, similar = customers.create_customer(
        session, settings, admin, _enterprise("北京某某科技 （有限公司）", 2)
    )
    assert [c.name for c in similar] == ["北京某某科技有限公司"]
    with pytest.raises(ConflictError):
        customers.create_customer(session, settings, admin, _enterprise("别的公司", 1))


def test_second_editor_gets_conflict(session, people):
    sales, _, _ = people
    settings = load_settings()
    customer, _ = customers.create_customer(
        session, settings, sales, _enterprise("上海某某贸易有限公司", 3)
    )
    session.commit()
    edited = customers.edit_customer(
        session, settings, sales, customer.code, {"cumulative_amount": "１２０，０００"}, version=1
    )
    session.commit()
    assert edited.version == 2 and edited.cumulative_amount == Decimal("120000.00")
    with pytest.raises(ConflictError, match="已被 s1 修改（当前版本 2），请刷新后重新编辑"):
        customers.edit_customer(
            session, settings, sales, customer.code, {"notes": "晚到的修改"}, version=1
        )
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "customer.update")).all()
    assert events[-1].before == {"cumulative_amount": None}
    assert events[-1].after == {"cumulative_amount": "120000.00"}
    assert repo.get_customer(session, code=customer.code).notes is None
