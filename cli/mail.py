"""``dossier mail fetch``: read new messages of the configured mailboxes into the intake.

Each acceptable attachment is handed in like an upload (sender as submitter, subject as note);
the message is marked only afterwards. Exit code 0: every mailbox read; 1: a mailbox could not
be read (nothing of its current message was marked; the next run reads it again).
"""

from __future__ import annotations

import typer
from rich.table import Table

from cli.output import JsonOpt, console, emit_json
from config.errors import ConfigError

mail_app = typer.Typer(help="邮件收取 (e-mail intake)", no_args_is_help=True)

OUTCOME_LABELS = {"filed": "已收取", "partial": "部分收取", "refused": "拒收"}


@mail_app.command("fetch")
def mail_fetch(json_out: JsonOpt = False) -> None:
    """Fetch new messages from every configured mailbox and hand their attachments in."""
    from app.context import app_context
    from app.intake_drop import mail_drop
    from ingest.mailbox import fetch_all

    settings = app_context(check_schema=False).settings
    if not settings.mailboxes:
        raise ConfigError(
            "未配置任何邮箱：请在 dossier.toml 中添加 [[mailboxes]]", key="mailboxes", rule="empty"
        )
    settings.ensure_dirs()
    reports = [r.as_dict() for r in fetch_all(settings, drop=mail_drop(settings))]
    if json_out:
        emit_json(reports)
    else:
        for report in reports:
            _print_report(report)
    if any(r["error"] for r in reports):
        raise typer.Exit(code=1)


def _print_report(report: dict) -> None:
    messages = report["messages"]
    table = Table(title=f"邮箱 {report['mailbox']}：{len(messages)} 封新邮件")
    for title in ("UID", "发件人", "主题", "结果", "收取的文件", "拒收原因"):
        table.add_column(title, overflow="fold")
    for m in messages:
        table.add_row(
            m["uid"],
            m["sender"] or "",
            m["subject"],
            OUTCOME_LABELS.get(m["outcome"], m["outcome"]),
            "、".join(m["files"]),
            "；".join(str(r["message"]) for r in m["refusals"]),
        )
    console.print(table)
    if report["error"]:
        console.print(f"[red]错误[/red]：{report['error']['message']}", markup=True)


def register(root: typer.Typer) -> None:
    """Add ``mail`` to the root ``dossier`` app (called by cli.main)."""
    root.add_typer(mail_app, name="mail")
