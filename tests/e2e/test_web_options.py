"""HTTP tests (SQLite and PostgreSQL): admins edit option lists on ``/options`` (Chinese labels,
add, rename, retire, restore, audited, the forms offer the edited lists and validation uses
them), and cooperation records are edited and removed on the customer page."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from models import repo
from models.audit import AuditEvent
from tests.e2e import test_web_customers as base
from tests.e2e.test_web_http import WebWorld, csrf_from

world = base.world  # the fixtures of the customer page tests
client_of = base.client_of


def _post(client: Any, path: str, data: dict[str, Any]) -> Any:
    token = csrf_from(client.get("/customers").text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def _actions(world: WebWorld, prefix: str) -> list[AuditEvent]:
    with Session(world.engine) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [e for e in events if e.action.startswith(prefix)]


def _customer(world: WebWorld, code: str) -> Any:
    with Session(world.engine, expire_on_commit=False) as session:
        return repo.get_customer(session, code=code)


def test_admin_edits_option_lists_on_the_web(client_of, world: WebWorld) -> None:
    admin = client_of("admin")
    page = admin.get("/options")
    assert page.status_code == 200
    for label in ("所属行业", "客户来源", "跟进方式", "合作状态", "配置文件默认"):
        assert label in page.text
    assert 'href="/options"' in page.text  # in the admin's menu
    assert client_of("sales1").get("/options").status_code == 403
    assert client_of("rev1").get("/options").status_code == 403
    assert _post(client_of("sales1"), "/options/industry", {"value": "新能源"}).status_code == 403

    added = _post(admin, "/options/industry", {"value": "新能源"})
    assert added.status_code == 303 and added.headers["location"] == "/options#list-industry"
    assert "已在“所属行业”中添加选项 新能源" in admin.get("/options").text
    again = _post(admin, "/options/industry", {"value": "新能源"})
    assert again.status_code == 409 and "选项：“新能源”已存在" in again.text
    assert 'value="新能源"' in again.text  # the input is kept
    blank = _post(admin, "/options/source_channel", {"value": " "})
    assert blank.status_code == 422 and "选项：不能为空" in blank.text
    assert _post(admin, "/options/customer_type", {"value": "x"}).status_code == 404

    # The new option is offered on the form and accepted; a retired one is neither.
    assert "新能源" in admin.get("/customers/new").text
    renamed = _post(admin, "/options/source_channel/rename",
                    {"value": "销售陌拜", "new_value": "电话陌拜"})  # fmt: skip
    assert renamed.status_code == 303
    assert "电话陌拜" in admin.get("/customers/new").text
    assert _post(admin, "/options/industry/retire", {"value": "房地产"}).status_code == 303
    form = admin.get("/customers/new").text
    assert '<option value="房地产"' not in form and '<option value="新能源"' in form
    listing = admin.get("/options").text
    assert "已停用" in listing and "恢复" in listing
    assert '<option value="房地产"' in admin.get("/customers").text  # the filter finds old ones
    assert _post(admin, "/options/industry/retire",
                 {"value": "房地产", "restore": "1"}).status_code == 303  # fmt: skip
    actions = [e.action for e in _actions(world, "option.")]
    assert actions == ["option.add", "option.rename", "option.retire", "option.restore"]
    audit = admin.get("/audit").text
    assert "添加选项" in audit and "选项改名" in audit and "所属行业" in audit


def test_cooperation_records_are_edited_and_removed_on_the_page(client_of, world) -> None:
    code = world.customers["A"]
    sales = client_of("sales1")
    add = {"name": "年度合同", "signed_date": "2026-11-20", "amount": "600000", "status": "已签约"}
    assert _post(sales, f"/customers/{code}/cooperations", add).status_code == 303
    extra = {"name": "补充协议", "signed_date": "2026-12-01", "amount": "1000"}
    assert _post(sales, f"/customers/{code}/cooperations", extra).status_code == 303
    page = sales.get(f"/customers/{code}").text
    assert "编辑 / 删除" in page and "删除合作记录 年度合同" in page
    with Session(world.engine) as session:
        customer = repo.get_customer(session, code=code)
        first, second = sorted(repo.list_cooperations(session, customer_id=customer.id),
                               key=lambda r: r.id)  # fmt: skip
    bad = _post(sales, f"/customers/{code}/cooperations/{first.id}", {**add, "amount": "-1"})
    assert bad.status_code == 422 and "合同金额：须为不小于0的金额" in bad.text
    assert 'value="-1"' in bad.text
    edit = _post(sales, f"/customers/{code}/cooperations/{first.id}", {**add, "amount": "90000"})
    assert edit.status_code == 303 and edit.headers["location"].endswith("#cooperations")
    customer = _customer(world, code)
    assert customer.cumulative_amount == 91000 and customer.value_tier == "普通"
    assert "已保存合作记录 年度合同" in sales.get(f"/customers/{code}").text
    # Another owner's record, or a record of another customer: 404.
    sales2 = client_of("sales2")
    assert _post(sales2, f"/customers/{code}/cooperations/{first.id}", add).status_code == 404
    other = world.customers["B"]
    assert _post(client_of("admin"), f"/customers/{other}/cooperations/{first.id}/remove",
                 {}).status_code == 404  # fmt: skip
    gone = _post(sales, f"/customers/{code}/cooperations/{second.id}/remove", {})
    assert gone.status_code == 303
    customer = _customer(world, code)
    assert customer.cumulative_amount == 90000
    assert str(customer.latest_cooperation_date) == "2026-11-20"
    assert "已删除合作记录 补充协议" in sales.get(f"/customers/{code}").text
    assert [e.action for e in _actions(world, "cooperation.")] == [
        "cooperation.create", "cooperation.create", "cooperation.update", "cooperation.delete",
    ]  # fmt: skip
