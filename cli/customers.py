"""``dossier customers``: the customer file on a terminal (add, edit, show, list, tag, untag).

Thin: parse, call ``archive``, print with the one emitter; every command takes ``--json``.
Commands act in the name of a user (``--user``/``-u`` or ``DOSSIER_USER``) with that user's
permissions: a sales user sees and edits only their own customers (another's is "not found")
and cannot change the owner. Without ``--user`` the command runs as the trusted operator (the
person with the database, audited as ``cli:<login name>``), like ``dossier users``.

Field options are declared once (:data:`CUSTOMER_FIELDS`) for ``add`` and ``edit``; on ``edit``
an empty value (``--phone ""``) clears a field, and a cleared cooperation total or level
follows the records or the value tier again. The contacts, follow-ups, cooperation and tags
groups live in :mod:`cli.customer_parts` and :mod:`cli.tags`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, get_type_hints

import typer
from sqlmodel import Session

from app.context import AppContext, app_context
from app.records import (
    contact_record,
    cooperation_record,
    customer_record,
    document_record,
    follow_up_record,
    record_unmasked,
)
from archive import customers, tags
from archive.customer_merge import merge_customers
from archive.customer_query import CustomerFilter, list_customers
from archive.permissions import PermissionDeniedError, sees_everything
from archive.tiers import refresh_tiers, tier_thresholds
from cli.labels import print_customer_record, print_customer_table
from cli.output import (
    FullOpt,
    JsonOpt,
    LimitOpt,
    OffsetOpt,
    choose,
    cli_actor,
    console,
    customer_types,
    emit_json,
    err,
    print_documents,
)
from config.clock import local_time
from models import repo
from models.user import Role, User

customers_app = typer.Typer(help="客户档案 (customers)", no_args_is_help=True)

UserOpt = Annotated[
    str | None,
    typer.Option("--user", "-u", envvar="DOSSIER_USER", help="操作人用户名（按其权限）"),
]
CodeArg = Annotated[str, typer.Argument(help="客户编号，如 CUS202405001")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="标签（可重复）")]

#: (field, option, help) of every customer field the CLI sets.
CUSTOMER_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "--name", "客户名称"),
    ("customer_type", "--type", "客户类型：企业客户 / 个人客户"),
    ("uscc", "--uscc", "统一社会信用代码"),
    ("id_number", "--id-number", "证件号码"),
    ("legal_representative", "--legal-rep", "法定代表人"),
    ("established_date", "--established", "成立时间 YYYY-MM-DD"),
    ("contact_person", "--contact", "联系人"),
    ("phone", "--phone", "联系方式"),
    ("email", "--email", "电子邮箱"),
    ("address", "--address", "地址"),
    ("industry", "--industry", "所属行业"),
    ("scale", "--scale", "客户规模"),
    ("region", "--region", "区域"),
    ("level", "--level", "客户等级"),
    ("source_channel", "--source", "客户来源"),
    ("status", "--status", "客户状态：潜在客户/意向客户/成交客户/流失客户"),
    ("notes", "--notes", "备注"),
    ("first_cooperation_date", "--first-cooperation", "首次合作时间（手工）"),
    ("latest_cooperation_date", "--latest-cooperation", "最近合作日期（手工）"),
    ("cumulative_amount", "--cumulative-amount", "累计合作金额（元，手工）"),
    ("decision_roles", "--decision-roles", "决策链角色，用顿号分隔"),
    ("follow_up_status", "--follow-up-status", "跟进状态"),
    ("complaint_count", "--complaint-count", "投诉次数"),
    ("complaint_type", "--complaint-type", "投诉类型"),
    ("last_service_date", "--last-service", "最近服务时间"),
    ("satisfaction", "--satisfaction", "服务满意度 1-5"),
    ("campaigns", "--campaigns", "参与活动，用顿号分隔"),
)


def with_options(
    params: Sequence[inspect.Parameter],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the keyword-only ``params`` as options; it receives them as ``**values``."""

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(func)
        hints = get_type_hints(func, include_extras=True)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
            if p.kind != p.VAR_KEYWORD
        ]
        func.__signature__ = signature.replace(parameters=[*own, *params])  # type: ignore[attr-defined]
        return func

    return decorate


def field_options(
    fields: Sequence[tuple[str, str, str]],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command one ``str | None`` option per field; it receives them as ``**values``."""
    return with_options(
        [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[str | None, typer.Option(flag, help=text)],
            )
            for name, flag, text in fields
        ]
    )


#: The customer list's filters (parameter, type, default, option): ``customers list`` and
#: ``customers export`` take the same ones (:func:`customer_filter` reads them).
LIST_FILTERS: tuple[tuple[str, Any, Any, Any], ...] = (
    ("tag", list[str] | None, None, typer.Option("--tag", help="标签（可重复，须全部符合）")),
    ("status", str | None, None, typer.Option("--status", help="客户状态")),
    ("customer_type", str | None, None, typer.Option("--type", help="客户类型")),
    ("industry", str | None, None, typer.Option("--industry", help="所属行业")),
    ("level", str | None, None, typer.Option("--level", help="客户等级")),
    ("tier", str | None, None, typer.Option("--tier", help="价值层级：高价值/中价值/普通")),
    ("region", str | None, None, typer.Option("--region", help="区域")),
    ("owner", str | None, None, typer.Option("--owner", help="负责人用户名")),
    (
        "complete",
        bool | None,
        None,
        typer.Option("--complete/--incomplete", help="必备资料齐全/缺少"),
    ),
    ("expiring", bool, False, typer.Option("--expiring", help="有已过期或即将过期的资料")),
    (
        "search",
        str | None,
        None,
        typer.Option("--search", help="名称、编号、信用代码、联系人、电话或联系人姓名包含"),
    ),
)

filter_options = with_options(
    [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, opt]
        )
        for name, kind, default, opt in LIST_FILTERS
    ]
)


def customer_filter(ctx: AppContext, session: Session, values: dict[str, Any]) -> CustomerFilter:
    """The :class:`CustomerFilter` the :data:`LIST_FILTERS` options given describe."""
    tiers = {t: t for t, _ in tier_thresholds(ctx.settings)}
    return CustomerFilter(
        tags=tuple(values.get("tag") or ()),
        status=choose("--status", values.get("status"), ctx.taxonomy.customer_statuses),
        customer_type=choose("--type", values.get("customer_type"), customer_types(ctx.taxonomy)),
        industry=values.get("industry"),
        level=values.get("level"),
        value_tier=choose("--tier", values.get("tier"), tiers),
        region=values.get("region"),
        owner_id=owner_id(session, values.get("owner")),
        text=values.get("search"),
        complete=values.get("complete"),
        expiring=bool(values.get("expiring")),
    )


# --- plumbing ---------------------------------------------------------------------------------


def acting_user(session: Session, username: str | None) -> User:
    """The user a command acts for; without a name the trusted operator (admin rights)."""
    if not username:
        return User(username=cli_actor(), role=Role.ADMIN.value, is_active=True)
    user = repo.get_user(session, username=username)
    if user is None:
        raise repo.NotFoundError(f"用户 {username} 不存在，请用 --user 指定操作人")
    return user


@contextmanager
def acting(username: str | None) -> Iterator[tuple[AppContext, Session, User]]:
    """The one AppContext, a session that commits at the end, and the acting user."""
    ctx = app_context()
    with ctx.session() as session:
        yield ctx, session, acting_user(session, username)


def owner_id(session: Session, username: str | None) -> int | None:
    """The id of the user named by ``--owner``."""
    if not username:
        return None
    user = repo.get_user(session, username=username)
    if user is None:
        raise repo.NotFoundError(f"负责人 {username} 不存在")
    return user.id


def tag_names(session: Session, customer_id: int | None) -> list[str]:
    return [t.name for t in repo.customer_tags(session, customer_id=customer_id)]  # type: ignore[arg-type]


def check_unmask(actor: User) -> None:
    """Full ID numbers and phones only for reviewers and admins (as on the web)."""
    if not sees_everything(actor):
        raise PermissionDeniedError(
            "没有权限：查看完整证件号码与电话", action="unmask", username=actor.username
        )


# --- commands ---------------------------------------------------------------------------------


@customers_app.command("add")
@field_options([f for f in CUSTOMER_FIELDS if f[0] != "name"])
def customers_add(
    name: Annotated[str, typer.Option(help="客户名称")],
    owner: Annotated[str | None, typer.Option(help="负责人用户名")] = None,
    tag: TagOpt = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
    **values: str | None,
) -> None:
    """Add a customer (validated: USCC/ID check digits, phone, e-mail, option lists)."""
    given: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
    given["name"] = name
    given.setdefault("customer_type", "企业客户")
    with acting(user) as (ctx, session, actor):
        if owner:
            given["owner_id"] = owner_id(session, owner)
        customer, similar = customers.create_customer(session, ctx.settings, actor, given)
        if tag:
            tags.tag_customer(session, actor, customer.code, tag)
        record = customer_record(
            customer, taxonomy=ctx.taxonomy, tags=tag_names(session, customer.id)
        )
        record["similar"] = [{"code": c.code, "name": c.name} for c in similar]
    if json_out:
        emit_json(record)
        return
    console.print(f"已创建客户 [bold]{record['code']}[/bold] {record['name']}")
    for other in record["similar"]:
        err.print(f"注意：名称相近的客户 {other['code']} {other['name']}，请确认是否重复")


@customers_app.command("edit")
@field_options(CUSTOMER_FIELDS)
def customers_edit(
    code: CodeArg,
    owner: Annotated[str | None, typer.Option(help="负责人用户名")] = None,
    level_reason: Annotated[
        str | None, typer.Option("--level-reason", help="手工调整客户等级的原因")
    ] = None,
    version: Annotated[
        int | None, typer.Option(min=1, help="基于的版本（默认当前版本；不符则拒绝）")
    ] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
    **values: str | None,
) -> None:
    """Change fields of a customer; an empty value clears the field."""
    changes: dict[str, Any] = {k: (v or None) for k, v in values.items() if v is not None}
    if level_reason is not None:
        changes["level_reason"] = level_reason
    with acting(user) as (ctx, session, actor):
        current = customers.get_visible(session, actor, code)
        if owner is not None:
            changes["owner_id"] = owner_id(session, owner)
        customer = customers.edit_customer(
            session,
            ctx.settings,
            actor,
            current.code,
            changes,
            version=version if version is not None else current.version,
        )
        record = customer_record(
            customer, taxonomy=ctx.taxonomy, tags=tag_names(session, customer.id)
        )
    if json_out:
        emit_json(record)
    else:
        console.print(f"已保存客户 [bold]{record['code']}[/bold]（版本 {record['version']}）")


@customers_app.command("show")
def customers_show(
    code: CodeArg, full: FullOpt = False, user: UserOpt = None, json_out: JsonOpt = False
) -> None:
    """Show one customer: fields, tags, contacts, follow-ups, cooperation, documents."""
    with acting(user) as (ctx, session, actor):
        customer = customers.get_visible(session, actor, code)
        if full:
            check_unmask(actor)
        cid = customer.id
        record = customer_record(
            customer, taxonomy=ctx.taxonomy, unmask=full, tags=tag_names(session, cid)
        )
        record["contacts"] = [
            contact_record(c, unmask=full)
            for c in repo.list_contacts(session, customer_id=cid)  # type: ignore[arg-type]
        ]
        record["follow_ups"] = [
            follow_up_record(f)
            for f in repo.list_follow_ups(session, customer_id=cid, limit=20)  # type: ignore[arg-type]
        ]
        record["cooperations"] = [
            cooperation_record(c)
            for c in repo.list_cooperations(session, customer_id=cid)  # type: ignore[arg-type]
        ]
        docs = repo.list_documents(session, customer_id=cid, limit=1000)
        record["documents"] = [
            document_record(d, customer=customer, taxonomy=ctx.taxonomy) for d in docs
        ]
        if full:
            record_unmasked(session, actor=actor.username, entity_type="customer", entity_id=code)
    if json_out:
        emit_json(record)
        return
    parts = ("contacts", "follow_ups", "cooperations", "documents")
    print_customer_record(
        f"{record['code']} {record['name']}", {k: v for k, v in record.items() if k not in parts}
    )
    for c in record["contacts"]:
        console.print(f"联系人 #{c['id']} {c['name']} {c['title'] or ''} {c['mobile'] or ''}")
    for f in record["follow_ups"]:
        console.print(f"跟进 {local_time(f['followed_at'])} {f['followed_by']} {f['content']}")
    for c in record["cooperations"]:
        console.print(f"合作 #{c['id']} {c['name']} {c['signed_date'] or ''} {c['amount'] or ''}")
    print_documents(record["documents"])


@customers_app.command("list")
@filter_options
def customers_list(
    sort: Annotated[str, typer.Option(help="排序列，前加 - 为倒序")] = "code",
    limit: LimitOpt = 100,
    offset: OffsetOpt = 0,
    user: UserOpt = None,
    json_out: JsonOpt = False,
    **values: Any,
) -> None:
    """List the customers the user may see; ``--tag`` may repeat (all must match)."""
    with acting(user) as (ctx, session, actor):
        filters = customer_filter(ctx, session, values)
        rows, total = list_customers(
            session,
            actor,
            filters,
            taxonomy=ctx.taxonomy,
            sort=sort,
            limit=limit,
            offset=offset,
            warning_days=ctx.settings.expiry_warning_days,
        )
        names = repo.tag_names_by_customer(session, customer_ids=[c.id for c in rows])  # type: ignore[misc]
        records = [customer_record(c, taxonomy=ctx.taxonomy, tags=names[c.id]) for c in rows]  # type: ignore[index]
    if json_out:
        emit_json(records)
        return
    print_customer_table(records, total)


@customers_app.command("tag")
def customers_tag(
    code: CodeArg,
    names: Annotated[list[str], typer.Argument(help="标签名称（可多个）")],
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Give a customer tags from the vocabulary (at most 5 in all)."""
    _change_tags(tags.tag_customer, "added", code, names, user, json_out)


@customers_app.command("untag")
def customers_untag(
    code: CodeArg,
    names: Annotated[list[str], typer.Argument(help="标签名称（可多个）")],
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take tags off a customer."""
    _change_tags(tags.untag_customer, "removed", code, names, user, json_out)


def _change_tags(
    change: Any, key: str, code: str, names: list[str], user: str | None, json_out: bool
) -> None:
    """Tag or untag (``change``), then print the customer's tags; ``key`` names what changed."""
    with acting(user) as (_ctx, session, actor):
        changed = change(session, actor, code, names)
        current = [t.name for t in tags.customer_tags(session, actor, code)]
    if json_out:
        emit_json({"code": code.strip().upper(), key: changed, "tags": current})
    else:
        console.print(f"{code} 的标签：{'、'.join(current) or '无'}")


@customers_app.command("merge")
def customers_merge(
    keep: Annotated[str, typer.Argument(help="保留的客户编号")],
    remove: Annotated[str, typer.Argument(help="并入后删除的重复客户编号")],
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Merge a duplicate into the kept customer (admins): documents, contacts, follow-ups,
    cooperation records and tags move; objects are refiled under the kept name."""
    with acting(user) as (ctx, session, actor):
        result = merge_customers(session, ctx.store, ctx.settings, actor, keep=keep, remove=remove)
        record = {
            "kept": customer_record(
                result.kept, taxonomy=ctx.taxonomy, tags=tag_names(session, result.kept.id)
            ),
            "removed": result.removed_code,
            "moved": vars(result.moved),
            "object_moves": len(result.object_moves),
            "refile_failed": result.refile_failed,
        }
    if json_out:
        emit_json(record)
        return
    moved = record["moved"]
    console.print(
        f"已将 {record['removed']} 并入 {keep}：资料 {len(moved['documents'])} 份，"
        f"联系人 {len(moved['contacts'])} 个，跟进 {len(moved['follow_ups'])} 条，"
        f"合作记录 {len(moved['cooperations'])} 条"
    )
    if record["refile_failed"]:
        err.print(
            f"以下资料的文件未能移动，请稍后运行 dossier check --repair：{record['refile_failed']}"
        )


@customers_app.command("refresh-tiers")
def customers_refresh_tiers(user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """Recompute value tiers and levels from the last 365 days' cooperation (run nightly)."""
    with acting(user) as (ctx, session, actor):
        if not sees_everything(actor):
            raise PermissionDeniedError("没有权限：重算价值层级", action="refresh_tiers")
        changed = refresh_tiers(session, ctx.settings, actor=actor.username)
    if json_out:
        emit_json({"changed": changed})
    else:
        console.print(f"已重算价值层级：{changed} 个客户有变化")


def register(root: typer.Typer) -> None:
    """Add the customer-file groups to the root ``dossier`` app (called by cli.main)."""
    from cli import customer_parts
    from cli import tags as tags_cli

    root.add_typer(customers_app, name="customers")
    customer_parts.register(root)
    root.add_typer(tags_cli.tags_app, name="tags")
