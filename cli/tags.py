"""``dossier tags``: the tag vocabulary (admins add, rename, merge, retire) and its report."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from app.records import tag_record
from archive import tags
from cli.customers import UserOpt, acting
from cli.output import JsonOpt, console, emit_json

tags_app = typer.Typer(help="标签 (tags)", no_args_is_help=True)
NameArg = Annotated[str, typer.Argument(help="标签名称")]


@tags_app.command("add")
def tags_add(
    name: NameArg,
    description: Annotated[str | None, typer.Option(help="说明")] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a tag to the vocabulary (admins)."""
    with acting(user) as (_ctx, session, actor):
        record = tag_record(tags.add_tag(session, actor, name, description), customers=0)
    if json_out:
        emit_json(record)
    else:
        console.print(f"已添加标签 {record['name']}")


@tags_app.command("rename")
def tags_rename(
    name: NameArg,
    new_name: Annotated[str, typer.Argument(help="新名称")],
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Rename a tag (admins); customers keep it."""
    with acting(user) as (_ctx, session, actor):
        record = tag_record(tags.rename_tag(session, actor, name, new_name))
    if json_out:
        emit_json(record)
    else:
        console.print(f"标签 {name} 已改名为 {record['name']}")


@tags_app.command("merge")
def tags_merge(
    source: Annotated[str, typer.Argument(help="被合并的标签（合并后删除）")],
    target: Annotated[str, typer.Argument(help="保留的标签")],
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Merge one tag into another (admins): its customers get the kept tag."""
    with acting(user) as (_ctx, session, actor):
        kept, moved = tags.merge_tags(session, actor, source, target)
        record = {"source": source, "target": kept.name, "moved": moved}
    if json_out:
        emit_json(record)
    else:
        console.print(f"已将标签 {source} 合并到 {kept.name}（{moved} 个客户改用 {kept.name}）")


@tags_app.command("retire")
def tags_retire(
    name: NameArg,
    restore: Annotated[bool, typer.Option("--restore", help="恢复使用")] = False,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Retire a tag (admins): customers keep it, it cannot be given any more."""
    with acting(user) as (_ctx, session, actor):
        record = tag_record(tags.retire_tag(session, actor, name, retired=not restore))
    if json_out:
        emit_json(record)
    else:
        console.print(f"标签 {record['name']} {'已停用' if record['is_retired'] else '已恢复'}")


@tags_app.command("list")
def tags_list(user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """List the vocabulary with how many customers have each tag."""
    with acting(user) as (_ctx, session, _actor):
        records = [tag_record(t, customers=n) for t, n in tags.list_tags(session)]
    if json_out:
        emit_json(records)
        return
    table = Table(title=f"标签 ({len(records)})")
    for col in ("名称", "客户数", "状态", "说明"):
        table.add_column(col)
    for r in records:
        state = "已停用" if r["is_retired"] else "使用中"
        table.add_row(r["name"], str(r["customers"]), state, r["description"] or "")
    console.print(table)


@tags_app.command("report")
def tags_report(user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """Tags used by under 5% of customers, and customers whose tags contradict their fields."""
    with acting(user) as (ctx, session, actor):
        report = asdict(tags.tag_report(session, ctx.settings, actor))
    if json_out:
        emit_json(report)
        return
    console.print(f"客户总数 {report['total_customers']}")
    for r in report["rare"]:
        console.print(f"少用标签：{r['tag']}（{r['customers']} 个客户，{r['share']:.1%}）")
    for c in report["contradictions"]:
        console.print(
            f"矛盾：{c['customer']} {c['name']} 标签“{c['tag']}”与 {c['field']}={c['value']} 不符"
        )
