"""``dossier notify run``: send the notifications not yet sent (e-mail and/or webhook): expiry
reminders, rejected documents, quarantined files, critical integrity findings, incomplete
checklists (:func:`app.notify.notify_all`).

Exit code 0: everything due went out (or nothing was due); 1: a delivery failed (it is not
recorded as sent, so the next run tries it again).
"""

from __future__ import annotations

import typer

from cli.output import JsonOpt, console, emit_json

notify_app = typer.Typer(help="通知与到期提醒 (notifications)", no_args_is_help=True)


@notify_app.command("run")
def notify_run(json_out: JsonOpt = False) -> None:
    """Announce expiring documents (30, 7, 0 days), rejections, quarantined files, critical
    integrity findings and incomplete checklists, each once."""
    from app.context import app_context
    from app.notify import notify_all

    report = notify_all(app_context()).as_dict()
    if json_out:
        emit_json(report)
    else:
        console.print(
            f"通知事件 {report['events']} 个：已发送 {len(report['sent'])} 条，"
            f"此前已发送 {report['already_sent']} 条，失败 {len(report['failed'])} 条"
        )
        for failure in report["failed"]:  # type: ignore[attr-defined]
            console.print(
                f"[red]失败[/red] {failure['event']}（{failure['channel']}）：{failure['error']}"
            )
    if report["failed"]:
        raise typer.Exit(code=1)


def register(root: typer.Typer) -> None:
    """Add ``notify`` to the root ``dossier`` app (called by cli.main)."""
    root.add_typer(notify_app, name="notify")
