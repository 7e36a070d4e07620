"""``dossier customers export|import|template|dossier`` and ``dossier backup|restore``.

Thin: parse, call ``archive.exchange`` / ``archive.backup``, print with the one emitter. The
customer commands act as ``--user`` (or the trusted operator), like the rest of
``dossier customers``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from archive.exchange.export import export_customers
from archive.exchange.importing import import_file
from cli.customers import UserOpt, acting, customer_filter, customers_app, filter_options
from cli.output import JsonOpt, console, emit_json, err
from config.errors import DossierError
from models import repo

OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="输出文件")]


@customers_app.command("export")
@filter_options
def customers_export(
    output: OutputOpt,
    fmt: Annotated[str, typer.Option("--format", help="xlsx 或 csv")] = "xlsx",
    full: Annotated[
        bool, typer.Option("--full", help="导出完整联系方式、证件号码与邮箱（仅管理员，记录审计）")
    ] = False,
    user: UserOpt = None,
    json_out: JsonOpt = False,
    **values: Any,
) -> None:
    """Export the customer list (the list's filters); phone, ID and e-mail masked by default."""
    with acting(user) as (ctx, session, actor):
        filters = customer_filter(ctx, session, values)
        summary = export_customers(
            session, ctx.settings, actor, filters, fmt=fmt, output=output, full=full
        )
    if json_out:
        emit_json(summary)
    else:
        masked = "已脱敏" if summary["masked"] else "完整（已记录审计）"
        console.print(f"已导出 {summary['rows']} 个客户到 {summary['file']}（{masked}）")


def _print_report(report: dict, rejects: Path | None) -> None:  # type: ignore[type-arg]
    if report["rejected"]:
        table = Table(title=f"被拒绝的行 ({len(report['rejected'])})")
        for col in ("行号", "列", "规则", "说明"):
            table.add_column(col)
        for r in report["rejected"]:
            table.add_row(str(r["row"]), r["column"], r["rule"], r["message"])
        console.print(table)
    if report["committed"]:
        console.print(
            f"已导入：新增 {report['created']}，更新 {report['updated']}，"
            f"未变 {report['unchanged']}，拒绝 {len(report['rejected'])}"
        )
    else:
        console.print(
            f"未导入任何数据：{len(report['rejected'])} 行有错误（修正后重新导入，或加 --partial）"
        )
    if rejects is not None:
        console.print(f"被拒绝的行已写入 {rejects}（含“错误”列，修正后可重新导入）")


@customers_app.command("import")
def customers_import(
    file: Annotated[Path, typer.Argument(help="XLSX 或 CSV 文件（导入模板的列）")],
    partial: Annotated[
        bool, typer.Option("--partial", help="只导入有效行，被拒绝的行写入 --rejects 文件")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="被拒绝行的输出文件（默认 FILE.rejected.csv）")
    ] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import customers; all or nothing unless --partial. Exit 1 when a row was rejected."""
    from rich.progress import Progress

    with acting(user) as (ctx, session, actor), Progress(console=err, transient=True) as bar:
        task = bar.add_task("导入中", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = import_file(session, ctx.settings, actor, file, partial=partial, progress=advance)
    written = None
    if partial and report.rejected:
        written = rejects or file.with_name(file.stem + ".rejected.csv")
        from archive.exchange.template import write_rejects  # openpyxl only when needed

        write_rejects(written, report.rejected)
    data = report.as_dict() | {"rejects_file": str(written) if written else None}
    if json_out:
        emit_json(data)
    else:
        _print_report(data, written)
    if report.rejected:
        raise typer.Exit(code=1)


@customers_app.command("template")
def customers_template(output: OutputOpt) -> None:
    """Write the XLSX import template (Chinese headers, dropdowns for option lists)."""
    from app.context import app_context

    ctx = app_context(check_schema=False)
    taxonomy = ctx.taxonomy  # no database yet: the taxonomy file's option lists
    try:
        ctx.require_current_schema()
    except DossierError:
        pass
    else:
        with ctx.session() as session:  # the option lists as admins edited them
            taxonomy = repo.options_in_effect(session, ctx.taxonomy)
    from archive.exchange.template import write_template  # openpyxl only when needed

    write_template(output, taxonomy)
    console.print(f"导入模板已写入 {output}")


@customers_app.command("dossier")
def customers_dossier(
    code: Annotated[str, typer.Argument(help="客户编号")],
    output: OutputOpt,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write one ZIP of every archived document of a customer, with a manifest (audited)."""
    from archive.exchange.dossier_zip import write_dossier

    with acting(user) as (ctx, session, actor):
        manifest = write_dossier(session, ctx.settings, ctx.store, actor, code, output)
    if json_out:
        emit_json(manifest)
    else:
        count = len(manifest["documents"])
        console.print(f"客户资料包已写入 {output}：{count} 份资料（含清单与 SHA-256）")


def _second_store(ctx, url: str | None):  # type: ignore[no-untyped-def]
    """The store a ``--objects-to``/``--objects-from`` URL names (same S3 endpoint settings)."""
    if not url:
        return None
    from app.upkeep_jobs import store_for

    return store_for(ctx, url)


StoreUrlHelp = "第二存储：file:///文件夹 或 s3://桶/前缀"


def backup_command(
    dest: Annotated[
        Path | None,
        typer.Argument(help="备份文件夹（空文件夹或不存在）；省略时用 backup_dest 并轮换旧备份"),
    ] = None,
    objects_to: Annotated[
        str | None, typer.Option("--objects-to", help=f"把对象增量复制到{StoreUrlHelp}")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Back up the database (consistent snapshot) and list every object (key, size, sha256).

    Without DEST: into the configured ``backup_dest`` under a dated name, keeping the newest
    ``backup_keep`` backups (as the weekly deployment does)."""
    from app.context import app_context

    ctx = app_context()
    if dest is None:
        _configured_backup(ctx, objects_to, json_out)
        return
    from archive.backup import backup

    manifest = backup(
        ctx.engine,
        ctx.store,
        dest,
        copy_to=_second_store(ctx, objects_to),
        copy_to_url=objects_to,
        settings=ctx.settings,
    )
    summary = {k: v for k, v in manifest.items() if k != "objects"}
    summary["objects"] = len(manifest["objects"])
    if json_out:
        emit_json(summary)
    else:
        rows = sum(manifest["database"]["tables"].values())
        console.print(
            f"已备份到 {dest}：数据库 {rows} 行，对象 {summary['objects']} 个，"
            f"配置文件 {len(manifest['config'])} 个"
            + (
                f"，复制 {manifest['copied']} 个、已有 {manifest['skipped']} 个"
                if objects_to
                else ""
            )
        )


def _configured_backup(ctx, objects_to: str | None, json_out: bool) -> None:  # type: ignore[no-untyped-def]
    from app.upkeep_jobs import run_backup

    summary = run_backup(ctx, objects_to=objects_to)
    if json_out:
        emit_json(summary)
        return
    console.print(
        f"已备份到 {summary['location']}：数据库 {summary['database_rows']} 行，"
        f"对象 {summary['objects']} 个；保留 {len(summary['kept'])} 份，"
        f"删除旧备份 {len(summary['deleted'])} 份"
    )


def restore_command(
    src: Annotated[Path, typer.Argument(help="备份文件夹（含 manifest.json）")],
    objects_from: Annotated[
        str | None, typer.Option("--objects-from", help=f"对象所在的{StoreUrlHelp}")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Restore a backup into an empty instance (refuses one holding any row or object)."""
    from app.context import app_context
    from archive.backup import read_manifest, restore

    ctx = app_context(check_schema=False)
    source = objects_from or read_manifest(src).get("objects_copied_to")
    result = restore(
        ctx.engine,
        ctx.store,
        src,
        objects_from=_second_store(ctx, source),
        settings=ctx.settings,
    )
    if json_out:
        emit_json(result)
        return
    rows = sum(result["tables"].values())
    console.print(f"已恢复：数据库 {rows} 行，对象 {result['objects']} 个；请运行 dossier check")
    for entry in result["config"]:
        what = CONFIG_LABELS.get(entry["what"], entry["what"])
        if entry["status"] == "same":
            console.print(f"{what}：与备份相同")
            continue
        keys = f"（不同的设置：{'、'.join(entry['keys'])}）" if entry.get("keys") else ""
        console.print(
            f"{what}与备份不同{keys}：备份中的副本为 {entry['backup_copy']}，"
            f"本实例使用 {entry['in_use']}；如需沿用备份的配置，请在启用前替换"
        )


CONFIG_LABELS = {"taxonomy": "资料分类与选项（taxonomy）", "understanding": "识别与提取规则",
                 "settings": "设置（不含密钥）"}  # fmt: skip


report_app = typer.Typer(help="报告 (reports)", no_args_is_help=True)


@report_app.command("upkeep")
def report_upkeep(
    months: Annotated[int, typer.Option(min=1, help="联系人超过几个月未更新")] = 12,
    days: Annotated[int, typer.Option(min=1, help="客户超过几天未跟进")] = 90,
    expiring_days: Annotated[int, typer.Option(min=0, help="证照几天内到期")] = 30,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="另存为 XLSX（每节一张表）")] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Monthly upkeep: duplicates, stale contacts, no follow-up, expired and expiring licenses
    and IDs, incomplete checklists, tags to review."""
    from archive.upkeep import COLUMN_LABELS, SECTIONS, upkeep_report, write_upkeep_xlsx

    with acting(user) as (ctx, session, actor):
        report = upkeep_report(
            session, ctx.settings, actor, months=months, days=days, expiring_days=expiring_days
        )
    if xlsx is not None:
        write_upkeep_xlsx(xlsx, report)
    if json_out:
        emit_json(report)
        return
    for key, rows in report.items():
        table = Table(title=f"{SECTIONS[key]} ({len(rows)})")
        columns = list(rows[0]) if rows else []
        for name in columns:
            table.add_column(COLUMN_LABELS.get(name, name))
        for row in rows:
            table.add_row(*(str(row[c]) for c in columns))
        console.print(table if rows else f"{SECTIONS[key]}：无")


def register(root: typer.Typer) -> None:
    """Customer commands are added to ``customers_app`` on import; backup/restore go on root."""
    root.command("backup")(backup_command)
    root.command("restore")(restore_command)
    root.add_typer(report_app, name="report")
