"""``dossier notify run``: send the expiry reminders not yet sent (e-mail and/or webhook).

Exit code 0: everything due went out (or nothing was due); 1: a delivery failed (it is not
recorded as sent, so the next run tries it again).
"""

from __future__ import annotations

import typer

from cli.output import JsonOpt, console, emit_json

notify_app = typer.Typer(help="到期提醒 (notifications)", no_args_is_help=True)


@notify_app.command("run")
def notify_run(json_out: JsonOpt = False) -> None:
    """Announce licenses, IDs and contracts reaching 30, 7 and 0 days before they end, once."""
    from app.context import app_context
    from app.notify import notify_expiring

    report = notify_expiring(app_context()).as_dict()
    if json_out:
        emit_json(report)
    else:
        console.print(
            f"到期事件 {report['events']} 个：已发送 {len(report['sent'])} 条，"
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
