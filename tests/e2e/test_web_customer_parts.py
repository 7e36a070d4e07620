"""HTTP tests of a customer page's sections and the tag page (issue 15 items 2-5, 9), on
SQLite and PostgreSQL: contacts (add, edit, remove), follow-ups, cooperation records, tags (at
most 5, the Chinese error), the level override with its reason, merging a duplicate (admins),
the tag vocabulary and report; CSRF and who may do what."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, select

from archive import contacts, tags
from models import repo
from models.audit import AuditEvent
from tests.e2e import test_web_customers as base
from tests.e2e.test_web_http import WebWorld, csrf_from

world = base.world  # the fixtures of the customer page tests
client_of = base.client_of
_create, _enterprise, _tag = base._create, base._enterprise, base._tag


def _post(client: Any, path: str, data: dict[str, Any], page: str | None = None) -> Any:
    token = csrf_from(page or client.get("/customers").text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def _admin(world: WebWorld) -> Any:
    with Session(world.engine, expire_on_commit=False) as session:
        return repo.get_user(session, username="admin")


def _contacts(world: WebWorld, code: str) -> list[Any]:
    with Session(world.engine, expire_on_commit=False) as session:
        return contacts.list_contacts(session, _admin(world), code)


def _customer(world: WebWorld, code: str) -> Any:
    with Session(world.engine, expire_on_commit=False) as session:
        return repo.get_customer(session, code=code)


def test_contacts_add_edit_remove_with_inline_errors(client_of, world: WebWorld) -> None:
    code, other = world.customers["A"], world.customers["B"]
    sales = client_of("sales1")
    bad = _post(sales, f"/customers/{code}/contacts", {"name": "王芳", "mobile": "12345"})
    assert bad.status_code == 422
    assert "手机：须为11位手机号" in bad.text and 'value="王芳"' in bad.text
    assert _contacts(world, code) == []
    ok = _post(
        sales,
        f"/customers/{code}/contacts",
        {"name": "王芳", "mobile": "138 0013 8000", "title": "采购经理", "is_primary": "是"},
    )
    assert ok.status_code == 303 and ok.headers["location"] == f"/customers/{code}#contacts"
    [contact] = _contacts(world, code)
    assert contact.mobile == "13800138000" and contact.is_primary
    page = sales.get(f"/customers/{code}").text
    assert "王芳" in page and "主要联系人" in page and "13800138000" not in page  # masked
    # The list finds the customer by a contact's name.
    assert base._codes(sales.get("/customers?q=王芳").text) == [code]
    # Edit: the masked mobile left empty is kept; unchecked flags are cleared.
    edit = _post(
        sales, f"/customers/{code}/contacts/{contact.id}", {"name": "王芳", "title": "总监"}
    )
    assert edit.status_code == 303
    [contact] = _contacts(world, code)
    assert contact.title == "总监" and contact.mobile == "13800138000" and not contact.is_primary
    bad = _post(sales, f"/customers/{code}/contacts/{contact.id}", {"name": ""})
    assert bad.status_code == 422 and "联系人姓名：不能为空" in bad.text
    # Another owner, or the contact through another customer's address: 404.
    sales2 = client_of("sales2")
    assert _post(sales2, f"/customers/{code}/contacts", {"name": "X"}).status_code == 404
    path = f"/customers/{code}/contacts/{contact.id}/remove"
    assert _post(sales2, path, {}).status_code == 404
    admin = client_of("admin")
    assert _post(admin, f"/customers/{other}/contacts/{contact.id}/remove", {}).status_code == 404
    # CSRF: a form without its token is refused.
    no_token = sales.post(path, data={}, follow_redirects=False)
    assert no_token.status_code == 403 and len(_contacts(world, code)) == 1
    assert _post(sales, path, {}).status_code == 303
    assert _contacts(world, code) == []
    with Session(world.engine) as session:
        events = session.exec(
            select(AuditEvent.actor, AuditEvent.action).where(
                AuditEvent.entity_type == "contact", AuditEvent.entity_id == str(contact.id)
            )
        ).all()
    assert {tuple(e) for e in events} >= {
        ("sales1", "contact.create"),
        ("sales1", "contact.delete"),
    }


def test_follow_ups_and_cooperation_records(client_of, world: WebWorld) -> None:
    code = world.customers["A"]
    sales = client_of("sales1")
    bad = _post(sales, f"/customers/{code}/follow-ups", {"content": "", "channel": "电话"})
    assert bad.status_code == 422 and "跟进内容：不能为空" in bad.text
    ok = _post(
        sales,
        f"/customers/{code}/follow-ups",
        {"content": "电话沟通报价", "channel": "电话", "status": "方案提交",
         "followed_at": "2026-12-01T10:30"},
    )  # fmt: skip
    assert ok.status_code == 303
    page = sales.get(f"/customers/{code}").text
    assert "电话沟通报价" in page and "2026-12-01 10:30" in page
    assert _customer(world, code).follow_up_status == "方案提交"

    bad = _post(sales, f"/customers/{code}/cooperations", {"name": "年度合同", "amount": "-5"})
    assert bad.status_code == 422 and "合同金额：须为不小于0的金额" in bad.text
    ok = _post(
        sales,
        f"/customers/{code}/cooperations",
        {"name": "年度合同", "signed_date": "2026-11-20", "amount": "600000"},
    )
    assert ok.status_code == 303
    customer = _customer(world, code)
    assert customer.cumulative_amount == 600000 and customer.value_tier == "高价值"
    assert "年度合同" in sales.get(f"/customers/{code}").text
    sales2 = client_of("sales2")
    assert _post(sales2, f"/customers/{code}/follow-ups", {"content": "x"}).status_code == 404
    assert _post(sales2, f"/customers/{code}/cooperations", {"name": "x"}).status_code == 404


def test_tags_on_the_page_at_most_five_and_level_override(client_of, world: WebWorld) -> None:
    code = world.customers["A"]
    _tag(
        world,
        world.customers["B"],
        "一",
        "二",
        "三",
        "四",
        "五",
    )
    with Session(world.engine, expire_on_commit=False) as session:
        tags.add_tag(session, _admin(world), "六")
        session.commit()
    sales = client_of("sales1")
    for name in ("一", "二", "三", "四", "五"):
        assert _post(sales, f"/customers/{code}/tags", {"tag": name}).status_code == 303
    too_many = _post(sales, f"/customers/{code}/tags", {"tag": "六"})
    assert too_many.status_code == 422 and "标签：每个客户最多5个标签（已有5个）" in too_many.text
    assert _post(sales, f"/customers/{code}/tags/remove", {"tag": "五"}).status_code == 303
    page = sales.get(f"/customers/{code}").text
    assert "4/5" in page and 'aria-label="移除标签 一"' in page
    assert _post(client_of("sales2"), f"/customers/{code}/tags", {"tag": "六"}).status_code == 404

    # Level: a tier gives a level; another one needs a reason.
    _post(
        sales,
        f"/customers/{code}/cooperations",
        {"name": "年度合同", "signed_date": "2026-11-20", "amount": "600000"},
    )
    customer = _customer(world, code)
    assert customer.level == "A类大客户"
    data = {"level": "C类小客户", "version": str(customer.version)}
    refused = _post(sales, f"/customers/{code}/level", data)
    assert refused.status_code == 422 and "手工调整为其他等级须填写调整原因" in refused.text
    ok = _post(sales, f"/customers/{code}/level", {**data, "level_reason": "付款慢"})
    assert ok.status_code == 303
    customer = _customer(world, code)
    assert customer.level == "C类小客户" and customer.level_reason == "付款慢"
    stale = _post(sales, f"/customers/{code}/level", {**data, "level": "B类中小客户",
                                                       "level_reason": "x"})  # fmt: skip
    assert stale.status_code == 409 and _customer(world, code).level == "C类小客户"
    page = sales.get(f"/customers/{code}").text
    assert "手工调整" in page and "调整原因：付款慢" in page


def test_admin_merges_a_similar_customer_others_cannot(client_of, world: WebWorld) -> None:
    kept = world.customers["A"]  # 北京甲科技有限公司
    duplicate = _create(world, _enterprise(21, name="北京甲科技（有限公司）"))
    _post(client_of("admin"), f"/customers/{duplicate}/contacts", {"name": "赵六"})
    admin = client_of("admin")
    page = admin.get(f"/customers/{kept}").text
    assert "疑似重复客户" in page and f'value="{duplicate}"' in page
    assert "疑似重复客户" not in client_of("sales1").get(f"/customers/{kept}").text
    refused = _post(client_of("rev1"), f"/customers/{kept}/merge", {"remove": duplicate})
    assert refused.status_code == 403
    done = _post(admin, f"/customers/{kept}/merge", {"remove": duplicate})
    assert done.status_code == 303
    assert _customer(world, duplicate) is None
    assert [c.name for c in _contacts(world, kept)] == ["赵六"]
    assert "联系人 1 个" in admin.get(f"/customers/{kept}").text
    again = _post(admin, f"/customers/{kept}/merge", {"remove": kept})
    assert again.status_code == 422 and "不能与自身合并" in again.text


def test_tag_page_vocabulary_and_report(client_of, world: WebWorld) -> None:
    assert client_of("sales1").get("/tags").status_code == 403
    admin = client_of("admin")
    assert admin.get("/tags").status_code == 200
    assert _post(admin, "/tags", {"name": "制造业"}).status_code == 303
    assert _post(admin, "/tags", {"name": "成交客户"}).status_code == 303
    dup = _post(admin, "/tags", {"name": " 制造业 "})
    assert dup.status_code == 409 and "制造业" in dup.text
    bad = _post(admin, "/tags", {"name": "a,b"})
    assert bad.status_code == 422 and "标签名称：不能包含逗号" in bad.text
    assert _post(admin, "/tags/rename", {"name": "制造业", "new_name": "工业"}).status_code == 303
    _tag(world, world.customers["A"], "工业", "成交客户")  # A is a prospect: contradiction
    _tag(world, world.customers["B"], "老客户")
    merged = _post(admin, "/tags/merge", {"source": "老客户", "target": "工业"})
    assert merged.status_code == 303
    assert _post(admin, "/tags/retire", {"name": "成交客户"}).status_code == 303
    page = admin.get("/tags").text
    assert 'data-tag="工业"' in page and 'data-tag="老客户"' not in page
    assert re.search(r'data-tag="成交客户" class="retired"', page)
    assert f'class="contradiction" data-code="{world.customers["A"]}"' in page
    assert "客户状态" in page
    # Reviewers read the report but cannot change the vocabulary.
    reviewer = client_of("rev1")
    assert "标签报告" in reviewer.get("/tags").text
    assert _post(reviewer, "/tags", {"name": "新"}).status_code == 403
    assert _post(client_of("sales1"), "/tags/retire", {"name": "工业"}).status_code == 403
