"""``dossier contacts``, ``followups`` and ``cooperations``: the parts of a customer's file.

Same conventions as :mod:`cli.customers` (``--user``, ``--json``, an empty value clears a field
on ``edit``). Contacts and cooperation records are addressed by their id, shown by ``list``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.records import contact_record, cooperation_record, customer_record, follow_up_record
from archive import contacts, cooperations, followups
from cli.customers import CodeArg, UserOpt, acting, check_unmask, field_options
from cli.output import MAX_ID, FullOpt, JsonOpt, LimitOpt, console, emit_json
from config.clock import local_time

contacts_app = typer.Typer(help="联系人 (contacts)", no_args_is_help=True)
followups_app = typer.Typer(help="跟进记录 (follow-ups)", no_args_is_help=True)
cooperations_app = typer.Typer(help="合作记录 (cooperation records)", no_args_is_help=True)

IdArg = Annotated[int, typer.Argument(min=1, max=MAX_ID, help="记录 ID")]
PhonesOpt = Annotated[list[str] | None, typer.Option("--other-phone", help="其他电话（可重复）")]

CONTACT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "--name", "姓名"),
    ("gender", "--gender", "性别：男/女"),
    ("department", "--department", "部门"),
    ("title", "--title", "职务"),
    ("mobile", "--mobile", "手机（11位）"),
    ("office_phone", "--office-phone", "办公电话（带区号）"),
    ("email", "--email", "电子邮箱"),
    ("wechat", "--wechat", "微信号"),
    ("responsibilities", "--responsibilities", "负责事项"),
    ("communication_preference", "--preference", "沟通偏好：电话/微信/邮件/面谈/短信"),
    ("relationship_level", "--relationship", "关系程度：密切/良好/一般/初识"),
)
COOPERATION_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "--name", "合同名称"),
    ("contract_no", "--contract-no", "合同编号"),
    ("signed_date", "--signed", "签订日期 YYYY-MM-DD"),
    ("effective_date", "--effective", "生效日期 YYYY-MM-DD"),
    ("expiry_date", "--expiry", "到期日期 YYYY-MM-DD"),
    ("amount", "--amount", "合同金额（元）"),
    ("payment_terms", "--payment-terms", "付款方式"),
    ("status", "--status", "合作状态：洽谈中/已签约/执行中/已完成/已终止"),
)


def _given(values: dict[str, str | None], *, clear: bool) -> dict[str, Any]:
    """The options given; with ``clear`` an empty value means None (clear the field)."""
    return {k: (v or None) if clear else v for k, v in values.items() if v is not None}


# --- contacts ---------------------------------------------------------------------------------


@contacts_app.command("add")
@field_options(CONTACT_FIELDS)
def contacts_add(
    code: CodeArg,
    primary: Annotated[bool, typer.Option("--primary", help="主要联系人")] = False,
    decision_maker: Annotated[bool, typer.Option("--decision-maker", help="决策人")] = False,
    other_phone: PhonesOpt = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
    **values: str | None,
) -> None:
    """Add a contact person to a customer."""
    given = _given(values, clear=False)
    given |= {"is_primary": primary, "is_decision_maker": decision_maker}
    if other_phone:
        given["phones"] = other_phone
    with acting(user) as (ctx, session, actor):
        contact = contacts.add_contact(session, ctx.settings, actor, code, given)
        record = contact_record(contact)
    if json_out:
        emit_json(record)
    else:
        console.print(f"已添加联系人 #{record['id']} {record['name']}")


@contacts_app.command("list")
def contacts_list(
    code: CodeArg, full: FullOpt = False, user: UserOpt = None, json_out: JsonOpt = False
) -> None:
    """List a customer's contacts (primary first)."""
    with acting(user) as (_ctx, session, actor):
        if full:
            check_unmask(actor)
        records = [
            contact_record(c, unmask=full) for c in contacts.list_contacts(session, actor, code)
        ]
    if json_out:
        emit_json(records)
        return
    for r in records:
        flags = ("【主要】" if r["is_primary"] else "") + (
            "【决策人】" if r["is_decision_maker"] else ""
        )
        console.print(
            f"#{r['id']} {r['name']}{flags} {r['department'] or ''} {r['title'] or ''} "
            f"{r['mobile'] or ''} {r['office_phone'] or ''} {r['email'] or ''}"
        )


@contacts_app.command("edit")
@field_options(CONTACT_FIELDS)
def contacts_edit(
    contact_id: IdArg,
    primary: Annotated[
        bool | None, typer.Option("--primary/--not-primary", help="是否主要联系人")
    ] = None,
    decision_maker: Annotated[
        bool | None, typer.Option("--decision-maker/--not-decision-maker", help="是否决策人")
    ] = None,
    other_phone: PhonesOpt = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
    **values: str | None,
) -> None:
    """Change a contact; an empty value clears a field."""
    given = _given(values, clear=True)
    for key, flag in (("is_primary", primary), ("is_decision_maker", decision_maker)):
        if flag is not None:
            given[key] = flag
    if other_phone is not None:
        given["phones"] = [p for p in other_phone if p]
    with acting(user) as (ctx, session, actor):
        contact = contacts.edit_contact(session, ctx.settings, actor, contact_id, given)
        record = contact_record(contact)
    if json_out:
        emit_json(record)
    else:
        console.print(f"已保存联系人 #{record['id']} {record['name']}")


@contacts_app.command("remove")
def contacts_remove(contact_id: IdArg, user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """Remove a contact (the audit trail keeps what it held)."""
    with acting(user) as (_ctx, session, actor):
        contact = contacts.remove_contact(session, actor, contact_id)
        record = {"id": contact_id, "name": contact.name, "removed": True}
    if json_out:
        emit_json(record)
    else:
        console.print(f"已删除联系人 #{contact_id} {record['name']}")


# --- follow-ups -------------------------------------------------------------------------------


@followups_app.command("add")
def followups_add(
    code: CodeArg,
    content: Annotated[str, typer.Option(help="跟进内容")],
    channel: Annotated[
        str | None, typer.Option(help="跟进方式：电话/微信/邮件/上门拜访/会议")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="跟进状态：初次接洽/方案提交/谈判中/成交")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="跟进时间 YYYY-MM-DD [HH:MM]，默认现在")
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="跟进人，默认操作人")] = None,
    next_step: Annotated[str | None, typer.Option("--next-step", help="下一步计划")] = None,
    next_date: Annotated[str | None, typer.Option("--next-date", help="下次跟进日期")] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a follow-up; its status becomes the customer's 跟进状态."""
    values = {
        "content": content, "channel": channel, "status": status, "followed_at": at,
        "followed_by": by, "next_step": next_step, "next_date": next_date,
    }  # fmt: skip
    with acting(user) as (ctx, session, actor):
        given = {k: v for k, v in values.items() if v is not None}
        entry, customer = followups.add_follow_up(session, ctx.settings, actor, code, given)
        record = follow_up_record(entry) | {"customer_follow_up_status": customer.follow_up_status}
    if json_out:
        emit_json(record)
    else:
        console.print(f"已记录跟进 #{record['id']}（{local_time(record['followed_at'])}）")


@followups_app.command("list")
def followups_list(
    code: CodeArg,
    limit: LimitOpt = 100,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List a customer's follow-ups, newest first."""
    with acting(user) as (_ctx, session, actor):
        entries = followups.list_follow_ups(session, actor, code, limit=limit)
        records = [follow_up_record(e) for e in entries]
    if json_out:
        emit_json(records)
        return
    for r in records:
        console.print(
            f"{local_time(r['followed_at'])} {r['followed_by']} {r['channel'] or ''} "
            f"{r['status'] or ''} {r['content']} → {r['next_step'] or ''}"
        )


# --- cooperation records ----------------------------------------------------------------------


@cooperations_app.command("add")
@field_options(COOPERATION_FIELDS)
def cooperations_add(
    code: CodeArg, user: UserOpt = None, json_out: JsonOpt = False, **values: str | None
) -> None:
    """Add a cooperation record; the customer's totals, tier and level follow."""
    with acting(user) as (ctx, session, actor):
        given = _given(values, clear=False)
        record, customer = cooperations.add_cooperation(session, ctx.settings, actor, code, given)
        out = cooperation_record(record) | {
            "customer": customer_record(customer, taxonomy=ctx.taxonomy)
        }
    if json_out:
        emit_json(out)
    else:
        c = out["customer"]
        console.print(
            f"已添加合作记录 #{out['id']}；累计 {c['cumulative_amount'] or 0} 元，"
            f"价值层级 {c['value_tier'] or '无'}，等级 {c['level'] or '无'}"
        )


@cooperations_app.command("edit")
@field_options(COOPERATION_FIELDS)
def cooperations_edit(
    cooperation_id: IdArg, user: UserOpt = None, json_out: JsonOpt = False, **values: str | None
) -> None:
    """Change a cooperation record; an empty value clears a field."""
    with acting(user) as (ctx, session, actor):
        given = _given(values, clear=True)
        record, customer = cooperations.edit_cooperation(
            session, ctx.settings, actor, cooperation_id, given
        )
        out = cooperation_record(record) | {
            "customer": customer_record(customer, taxonomy=ctx.taxonomy)
        }
    if json_out:
        emit_json(out)
    else:
        console.print(f"已保存合作记录 #{out['id']}")


@cooperations_app.command("remove")
def cooperations_remove(
    cooperation_id: IdArg, user: UserOpt = None, json_out: JsonOpt = False
) -> None:
    """Remove a cooperation record; the totals follow the remaining records (audited)."""
    with acting(user) as (ctx, session, actor):
        record, customer = cooperations.remove_cooperation(
            session, ctx.settings, actor, cooperation_id
        )
        out = {"id": cooperation_id, "name": record.name, "removed": True} | {
            "customer": customer_record(customer, taxonomy=ctx.taxonomy)
        }
    if json_out:
        emit_json(out)
    else:
        c = out["customer"]
        console.print(
            f"已删除合作记录 #{cooperation_id} {record.name}；累计 {c['cumulative_amount'] or 0} 元"
        )


@cooperations_app.command("list")
def cooperations_list(code: CodeArg, user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """List a customer's cooperation records, newest signed first."""
    with acting(user) as (_ctx, session, actor):
        records = [
            cooperation_record(r) for r in cooperations.list_cooperations(session, actor, code)
        ]
    if json_out:
        emit_json(records)
        return
    for r in records:
        console.print(
            f"#{r['id']} {r['contract_no'] or ''} {r['name']} {r['signed_date'] or '未签'} "
            f"{r['amount'] or ''} {r['status'] or ''}"
        )


def register(root: typer.Typer) -> None:
    """Add the contacts, followups and cooperations groups to the root app."""
    root.add_typer(contacts_app, name="contacts")
    root.add_typer(followups_app, name="followups")
    root.add_typer(cooperations_app, name="cooperations")
