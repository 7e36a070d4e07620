"""HTTP tests of the customer pages (issue 15 item 7), on SQLite and PostgreSQL.

The list (home of sales users, filters, search, sorting, paging, visibility), the customer
page (every field group, the checklist, expiring documents, version chains), the create and
edit forms (inline Chinese errors for every field at once, audit), optimistic concurrency (the
second editor of a stale version gets 409 with their input kept) and the owner rules.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from archive import cooperations, tags
from archive.customer_query import SORTABLE
from archive.storage import LocalObjectStore
from config import load_settings
from config.clock import china_date
from models import repo
from models.audit import AuditEvent
from models.customer import Customer
from tests.e2e.test_web_http import WebWorld, csrf_from, login, make_world
from tests.fixtures.db import make_uscc
from web.app import create_app
from web.routes.customers import SORT_LABELS

CODE_RE = re.compile(r'data-code="(CUS\d+)"')


@pytest.fixture
def world(tmp_path: Path, db_url: str, engine: Engine) -> WebWorld:
    """The shared web world (tests/e2e/test_web_http.make_world): customers A and B."""
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    settings = load_settings(home=tmp_path / "home", database_url=db_url)
    settings.ensure_dirs()
    return make_world(settings=settings, engine=engine, store=store, workdir=tmp_path / "samples")


@pytest.fixture
def client_of(world: WebWorld) -> Iterator[Callable[[str], TestClient]]:
    """``client_of(username)``: a signed-in TestClient with its own cookies."""
    app = create_app(world.settings, engine=world.engine, store=world.store)
    clients: list[TestClient] = []

    def make(username: str) -> TestClient:
        clients.append(TestClient(app))
        return login(clients[-1], username)

    yield make
    for client in clients:
        client.close()


def _customer(world: WebWorld, code: str) -> Customer:
    with Session(world.engine) as session:
        customer = repo.get_customer(session, code=code)
        assert customer is not None
        return customer


def _user_id(world: WebWorld, username: str) -> int:
    with Session(world.engine) as session:
        user = repo.get_user(session, username=username)
        assert user is not None and user.id is not None
        return user.id


def _codes(page_html: str) -> list[str]:
    return CODE_RE.findall(page_html)


def _events(world: WebWorld, code: str) -> list[AuditEvent]:
    with Session(world.engine) as session:
        query = (
            select(AuditEvent)
            .where(AuditEvent.entity_type == "customer", AuditEvent.entity_id == code)
            .order_by(col(AuditEvent.id))
        )
        return list(session.exec(query).all())


def _enterprise(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"测试{n}号科技有限公司",
        "customer_type": "enterprise",
        "uscc": make_uscc(n),
        "legal_representative": "李四",
        "established_date": "2018-06-01",
        "address": "上海市浦东新区世纪大道100号",
        **extra,
    }


def _create(world: WebWorld, values: dict[str, Any]) -> str:
    with Session(world.engine, expire_on_commit=False) as session:
        customer = repo.create_customer(session, data=values, actor="system")
        session.commit()
        return customer.code


def _document(
    world: WebWorld,
    code: str,
    doc_type: str,
    *,
    status: str = "archived",
    fields: dict[str, Any] | None = None,
    supersedes: int | None = None,
) -> int:
    """A document row of ``doc_type`` for customer ``code`` (no stored objects needed)."""
    with Session(world.engine, expire_on_commit=False) as session:
        customer = repo.get_customer(session, code=code)
        assert customer is not None
        seed = f"{code}{doc_type}{status}{fields}{supersedes}"
        digest = hashlib.sha256(seed.encode()).hexdigest()
        doc = repo.create_document(
            session,
            data={
                "customer_id": customer.id,
                "document_type": doc_type,
                "status": status,
                "submitted_date": date(2026, 10, 1),
                "original_filename": f"{doc_type}.pdf",
                "original_sha256": digest,
                "original_size": 10,
                "fields": fields or {},
                "supersedes_id": supersedes,
            },
            actor="system",
        )
        session.commit()
        return doc.id or 0


def _admin(world: WebWorld) -> Any:
    with Session(world.engine, expire_on_commit=False) as session:
        return repo.get_user(session, username="admin")


def _cooperation(world: WebWorld, code: str, amount: str) -> None:
    """A contract signed today: the annual amount, hence the stored value tier, follows."""
    with Session(world.engine, expire_on_commit=False) as session:
        cooperations.add_cooperation(
            session,
            world.settings,
            _admin(world),
            code,
            {"name": "年度合同", "signed_date": china_date().isoformat(), "amount": amount},
        )
        session.commit()


def _tag(world: WebWorld, code: str, *names: str) -> None:
    """Give customer ``code`` the tags (added to the vocabulary when missing)."""
    with Session(world.engine, expire_on_commit=False) as session:
        admin = _admin(world)
        for name in names:
            if repo.get_tag(session, name=name) is None:
                tags.add_tag(session, admin, name)
        tags.tag_customer(session, admin, code, names)
        session.commit()


ORIGINAL_RE = re.compile(r'name="original" value="([^"]*)"')


def _post(client: TestClient, path: str, data: dict[str, Any], form_page: str) -> Any:
    """Submit a form as the browser would: its CSRF token and hidden ``original`` included."""
    hidden = {"csrf_token": csrf_from(form_page)}
    original = ORIGINAL_RE.search(form_page)
    if original:
        hidden["original"] = html.unescape(original.group(1))
    return client.post(path, data={**hidden, **data}, follow_redirects=False)


def _a_form(**extra: Any) -> dict[str, Any]:
    """Customer A's stored values (tests/e2e/test_web_http.add_customer) as the form sends them."""
    return {
        "name": "北京甲科技有限公司",
        "uscc": make_uscc(1),
        "legal_representative": "张三",
        "established_date": "2015-03-12",
        "address": "北京市海淀区中关村大街1号",
        "status": "prospect",
        **extra,
    }


def _valid_form(n: int, **extra: Any) -> dict[str, Any]:
    values = {**_enterprise(n), "status": "prospect", **extra}
    return {k: v for k, v in values.items() if v is not None}


# --- the list ---------------------------------------------------------------------------------


def test_sales_start_on_their_customer_list_reviewers_on_the_queue(
    client_of, world: WebWorld
) -> None:
    sales = client_of("sales1")
    home = sales.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/customers"
    page = sales.get("/customers")
    assert page.status_code == 200
    assert '<a href="/customers">客户列表</a>' in page.text  # in the navigation
    assert _codes(page.text) == [world.customers["A"]]
    # A sales user's owner filter is ignored: still only their own customers.
    other = sales.get(f"/customers?owner={_user_id(world, 'sales2')}").text
    assert _codes(other) == [world.customers["A"]]

    reviewer = client_of("rev1")
    assert reviewer.get("/", follow_redirects=False).headers["location"] == "/queue"
    assert sorted(_codes(reviewer.get("/customers").text)) == sorted(world.customers.values())


def test_list_filters_search_sort_and_pages(client_of, world: WebWorld) -> None:
    sales1 = _user_id(world, "sales1")
    won = _create(
        world,
        _enterprise(
            11,
            status="won",
            contact_person="王经理",
            phone="13800138000",
            industry="制造业",
            level="A类大客户",
            owner_id=sales1,
            region="华东",
            cumulative_amount="650000",
        ),
    )
    mid = _create(
        world,
        _enterprise(
            12,
            status="interested",
            contact_person="赵主任",
            phone="010-12345678",
            industry="金融",
            level="B类中小客户",
            owner_id=sales1,
            region="华北",
            cumulative_amount="120000.50",
        ),
    )
    person = _create(
        world,
        {
            "name": "周小明",
            "customer_type": "individual",
            "id_number": "11010519491231002X",
            "cumulative_amount": "800",
        },
    )
    _cooperation(world, won, "650000")
    _cooperation(world, mid, "120000.50")
    _cooperation(world, person, "800")
    _tag(world, won, "制造业", "高价值")
    _tag(world, mid, "制造业")
    # The person has both required documents; the won customer's license expires in 10 days.
    _document(world, person, "id_card")
    _document(world, person, "customer_form")
    soon = (date.today() + timedelta(days=10)).isoformat()
    _document(world, won, "business_license", fields={"term_end": {"value": soon}})
    _document(world, mid, "business_license", fields={"term_end": {"value": "长期"}})

    rev = client_of("rev1")

    def codes(query: str) -> list[str]:
        response = rev.get(f"/customers?{query}")
        assert response.status_code == 200, response.text
        return _codes(response.text)

    assert codes("type=individual") == [person]
    assert codes("status=won") == [won]
    assert codes("industry=金融") == [mid]
    assert codes("level=A类大客户") == [won]
    assert codes("region=华北") == [mid]
    assert codes("tier=高价值") == [won]
    assert codes("tier=中价值") == [mid]
    assert codes("tier=普通") == [person]
    assert sorted(codes(f"owner={sales1}")) == sorted([world.customers["A"], won, mid])
    assert codes("complete=yes") == [person]
    assert person not in codes("complete=no") and won in codes("complete=no")
    assert codes("expiring=yes") == [won]
    assert codes("q=赵主任") == [mid]
    assert codes("q=周小明") == [person]
    assert codes(f"q={won.lower()}") == [won]
    assert codes("q=测试11号科技（有限）") == []
    assert codes("q=测试１１号") == [won]  # full-width digits match
    assert codes("sort=-cumulative_amount")[:3] == [won, mid, person]
    assert {key.lstrip("-") for key in SORT_LABELS} <= set(SORTABLE)  # every choice sorts
    # Tags combine: both must be present; an unknown tag matches nothing.
    assert sorted(codes("tag=制造业")) == sorted([won, mid])
    assert codes("tag=制造业&tag=高价值") == [won]
    assert codes("tag=制造业&tag=高价值&status=interested") == []
    assert codes("tag=不存在") == []
    tagged = rev.get("/customers?tag=制造业&tag=高价值").text
    assert 'value="高价值" checked' in tagged and "tag=%E5%88%B6%E9%80%A0%E4%B8%9A" in tagged
    assert "标签名称：不能包含" in rev.get("/customers?tag=a,b").text
    # Sales users filter by tags within their own customers only.
    assert _codes(client_of("sales2").get("/customers?tag=制造业").text) == []
    assert codes("status=won&industry=金融") == []
    assert codes("type=bogus&sort=nonsense&page=abc") == []
    page = rev.get("/customers?expiring=yes").text
    assert "1 份即将过期" in page and "1/4 缺少" in page

    # Paging: 30 a page.
    for n in range(40, 72):
        _create(world, _enterprise(n))
    first, second = codes("sort=code"), codes("sort=code&page=2")
    assert len(first) == 30 and len(second) == 7 and not set(first) & set(second)
    assert "第 2 / 2 页" in rev.get("/customers?sort=code&page=2").text


# --- the customer page ------------------------------------------------------------------------


def test_customer_page_shows_groups_checklist_expiry_and_versions(
    client_of, world: WebWorld
) -> None:
    code = world.customers["A"]
    past = (date.today() - timedelta(days=3)).isoformat()
    old = _document(
        world, code, "business_license", status="superseded", fields={"term_end": {"value": past}}
    )
    new = _document(
        world, code, "business_license", fields={"term_end": {"value": past}}, supersedes=old
    )
    _document(world, code, "bank_permit", status="rejected")
    page = client_of("sales1").get(f"/customers/{code}")
    assert page.status_code == 200
    text = page.text
    for heading in (
        "基本信息",
        "联系信息",
        "分类信息",
        "业务信息",
        "服务信息",
        "营销信息",
        "管理信息",
        "资料清单",
        "资料与版本",
    ):
        assert f"<h2>{heading}" in text, heading
    assert "统一社会信用代码" in text and make_uscc(1) in text and "首次合作时间" in text
    assert "公民身份号码" not in text  # an individual's number has no place on an enterprise
    # Checklist: the license in effect; the permit was rejected, so it is missing.
    checklist = text.split('id="checklist"')[1].split("</section>")[0]
    assert f'营业执照 <a href="/documents/{new}">' in checklist
    assert re.search(r'data-type="bank_permit">\s*<span aria-hidden="true">✗', checklist)
    assert "已齐 1/4 项" in checklist
    # Expired license shown; the superseded one is an older version of it.
    assert f"已于 {past} 过期" in text and f"#{new}</a>" in text
    versions = text.split('id="documents"')[1]
    assert versions.index(f"#{new}<") < versions.index(f"#{old}<") and "旧版本" in versions


# --- create -----------------------------------------------------------------------------------


def test_create_shows_every_error_inline_keeps_input_then_creates(
    client_of, world: WebWorld
) -> None:
    sales = client_of("sales1")
    form = sales.get("/customers/new")
    assert form.status_code == 200
    assert 'name="owner_id"' not in form.text  # sales cannot choose an owner
    assert 'type="date"' in form.text and '<select id="f-industry"' in form.text
    bad = _valid_form(
        21,
        uscc="91110108000000021X",
        phone="12345",
        email="not-mail",
        legal_representative="",
        satisfaction="9",
        cumulative_amount="１２.３４５",
    )
    response = _post(sales, "/customers/new", bad, form.text)
    assert response.status_code == 422
    text = html.unescape(response.text)
    for message in (
        "统一社会信用代码",
        "联系方式",
        "电子邮箱",
        "服务满意度：须为1到5的整数",
        "累计合作金额：须为不小于0的金额（元），最多两位小数",
    ):
        assert message in text, message
    assert text.count('class="field-error"') >= 5
    assert 'value="测试21号科技有限公司"' in text  # input kept
    with Session(world.engine) as session:
        assert session.exec(select(Customer).where(Customer.name == bad["name"])).first() is None

    good = _valid_form(
        21,
        phone="13900139000",
        industry="零售",
        decision_roles=["决策人", "采购者"],
        cumulative_amount="１２,３４５.６ 元",
        satisfaction="4",
    )
    created = _post(sales, "/customers/new", good, form.text)
    assert created.status_code == 303
    code = created.headers["location"].rsplit("/", 1)[1]
    customer = _customer(world, code)
    assert customer.owner_id == _user_id(world, "sales1")
    assert customer.decision_roles == ["决策人", "采购者"]
    assert customer.cumulative_amount == Decimal("12345.60")
    events = _events(world, code)
    # the create, then the typed-in cumulative amount marked as set by hand (not derived)
    assert [(e.actor, e.action) for e in events] == [
        ("sales1", "customer.create"),
        ("sales1", "customer.derive"),
    ]
    assert events[1].after == {"manual_fields": ["cumulative_amount"]}
    shown = sales.get(f"/customers/{code}")
    assert "已创建客户" in shown.text and "12,345.60 元" in shown.text


def test_admin_creating_a_won_customer_must_name_the_relationship_fields(
    client_of, world: WebWorld
) -> None:
    admin = client_of("admin")
    form = admin.get("/customers/new")
    assert 'name="owner_id"' in form.text
    response = _post(admin, "/customers/new", _valid_form(31, status="won"), form.text)
    assert response.status_code == 422
    text = html.unescape(response.text)
    for message in (
        "联系人不能为空",
        "联系方式不能为空",
        "所属行业不能为空",
        "客户等级不能为空",
        "负责人不能为空",
    ):
        assert message in text, message
    assert text.count('class="field-error"') == 5
    ok = _post(
        admin,
        "/customers/new",
        _valid_form(
            31,
            status="won",
            contact_person="钱经理",
            phone="13700137000",
            industry="教育",
            level="C类小客户",
            owner_id=str(_user_id(world, "sales2")),
        ),
        form.text,
    )
    assert ok.status_code == 303
    code = ok.headers["location"].rsplit("/", 1)[1]
    assert _customer(world, code).owner_id == _user_id(world, "sales2")


# --- edit, concurrency, permissions -----------------------------------------------------------


def test_edit_is_audited_and_a_stale_version_is_refused_with_input_kept(
    client_of, world: WebWorld
) -> None:
    code = world.customers["A"]
    first, second = client_of("rev1"), client_of("admin")
    form1 = first.get(f"/customers/{code}/edit")
    form2 = second.get(f"/customers/{code}/edit")
    assert 'name="version" value="1"' in form1.text
    values = _a_form(owner_id=_user_id(world, "sales1"))

    saved = _post(
        first,
        f"/customers/{code}/edit",
        {**values, "version": "1", "contact_person": "孙经理", "email": "sun@example.com"},
        form1.text,
    )
    assert saved.status_code == 303
    customer = _customer(world, code)
    assert customer.version == 2 and customer.contact_person == "孙经理"
    update = [e for e in _events(world, code) if e.action == "customer.update"]
    assert len(update) == 1 and update[0].actor == "rev1"
    assert update[0].before == {"contact_person": None, "email": None}
    assert update[0].after == {"contact_person": "孙经理", "email": "sun@example.com"}

    # The second editor started from version 1 and changed the contact person and the notes.
    mine = {**values, "version": "1", "contact_person": "周经理", "notes": "第二位编辑"}
    stale = _post(second, f"/customers/{code}/edit", mine, form2.text)
    assert stale.status_code == 409
    text = html.unescape(stale.text)
    assert "已被 rev1 修改" in text and "客户已被他人修改" in text
    # Nothing lost: their input is kept, the e-mail only the other editor changed is taken over.
    assert 'value="周经理"' in text and "第二位编辑</textarea>" in text
    assert 'id="f-email" name="email" value="sun@example.com"' in text
    conflict = text.split('id="conflict"')[1].split("</section>")[0]
    assert re.search(
        r'class="both-changed"><td>联系人</td><td>孙经理</td><td>周经理</td>', conflict
    )
    assert "<td>电子邮箱</td><td>sun@example.com</td>" in conflict and "已采用对方的值" in conflict
    assert "备注" not in conflict  # only they changed it
    assert 'name="version" value="2"' in text
    assert _customer(world, code).contact_person == "孙经理"

    # Saving again (as the browser sends the merged form) keeps both editors' changes.
    again = _post(
        second,
        f"/customers/{code}/edit",
        {**mine, "version": "2", "email": "sun@example.com"},
        stale.text,
    )
    assert again.status_code == 303
    final = _customer(world, code)
    assert final.version == 3 and final.contact_person == "周经理"
    assert final.notes == "第二位编辑" and final.email == "sun@example.com"
    assert final.updated_by == "admin"


def test_edit_errors_are_inline_and_nothing_is_written(client_of, world: WebWorld) -> None:
    code = world.customers["A"]
    rev = client_of("rev1")
    form = rev.get(f"/customers/{code}/edit")
    response = _post(
        rev,
        f"/customers/{code}/edit",
        _a_form(version="1", established_date="2999-01-01", email="x@"),
        form.text,
    )
    assert response.status_code == 422
    text = html.unescape(response.text)
    assert 'id="e-established_date"' in text and 'id="e-email"' in text
    assert _customer(world, code).version == 1


def test_sales_cannot_see_or_edit_another_owners_customer_nor_change_the_owner(
    client_of, world: WebWorld
) -> None:
    sales = client_of("sales1")
    mine, theirs = world.customers["A"], world.customers["B"]
    for path in (f"/customers/{theirs}", f"/customers/{theirs}/edit"):
        assert sales.get(path).status_code == 404, path
    form = sales.get(f"/customers/{mine}/edit")
    assert form.status_code == 200 and 'name="owner_id"' not in form.text
    hidden = _post(
        sales,
        f"/customers/{theirs}/edit",
        {**_valid_form(2), "version": "1", "notes": "x"},
        form.text,
    )
    assert hidden.status_code == 404
    values = _a_form(version="1")
    refused = _post(
        sales,
        f"/customers/{mine}/edit",
        {**values, "owner_id": str(_user_id(world, "sales2"))},
        form.text,
    )
    assert refused.status_code == 403
    assert _customer(world, mine).owner_id == _user_id(world, "sales1")
    assert _customer(world, theirs).notes is None
    # Their own customer: saved, the owner stays theirs.
    ok = _post(sales, f"/customers/{mine}/edit", {**values, "notes": "已电话联系"}, form.text)
    assert ok.status_code == 303
    assert _customer(world, mine).notes == "已电话联系"
    assert _customer(world, mine).owner_id == _user_id(world, "sales1")


def test_masked_phone_is_kept_when_a_sales_user_leaves_it_empty(client_of, world: WebWorld) -> None:
    code = _create(
        world,
        _enterprise(
            51,
            status="interested",
            contact_person="吴经理",
            phone="13600136000",
            industry="物流",
            level="C类小客户",
            owner_id=_user_id(world, "sales1"),
        ),
    )
    sales = client_of("sales1")
    form = sales.get(f"/customers/{code}/edit")
    assert "13600136000" not in form.text and "136****6000" in form.text
    values = _valid_form(
        51,
        status="interested",
        contact_person="吴经理",
        industry="物流",
        level="C类小客户",
        phone="",
        notes="复购意向",
    )
    saved = _post(sales, f"/customers/{code}/edit", {**values, "version": "1"}, form.text)
    assert saved.status_code == 303, html.unescape(saved.text)
    customer = _customer(world, code)
    assert customer.phone == "13600136000" and customer.notes == "复购意向"
