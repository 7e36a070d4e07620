"""``dossier quarantine list|requeue|discard``: the quarantine page's actions on a terminal.

The same functions as ``/quarantine`` (:mod:`app.quarantine`); each action is audited with the
actor ``cli:<login name>``. An entry is named by its ``<reason>/<day>/<name>`` as ``list`` shows.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.output import JsonOpt, cli_actor, console, emit_json

app = typer.Typer(help="隔离区：查看、重新处理、丢弃 (quarantine)", no_args_is_help=True)

RefArg = Annotated[str, typer.Argument(help="隔离条目，如 unsupported/20261206/a.json（见 list）")]


@app.command("list")
def quarantine_list(json_out: JsonOpt = False) -> None:
    """List quarantined files with their Chinese reasons, newest first."""
    from app.context import app_context
    from app.quarantine import quarantine_rows

    rows = quarantine_rows(app_context(check_schema=False).settings)
    if json_out:
        emit_json({"entries": [r.as_dict() for r in rows]})
        return
    if not rows:
        console.print("隔离区是空的。")
        return
    table = Table(title=f"隔离区（{len(rows)} 个文件）")
    for col in ("条目", "原因", "提交人", "隔离时间"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r.ref,
            r.reason_label + (f"（{r.problem_label}）" if r.problem_label else ""),
            r.submitted_by or "未知",
            r.quarantined_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("requeue")
def quarantine_requeue(ref: RefArg, json_out: JsonOpt = False) -> None:
    """Hand a quarantined file back to the intake (after fixing what sent it there)."""
    from app.context import app_context
    from app.quarantine import requeue

    ctx = app_context()
    with ctx.session() as session:
        dest = requeue(session, settings=ctx.settings, ref=ref, actor=cli_actor())
    if json_out:
        emit_json({"ref": ref, "intake_path": str(dest)})
        return
    console.print(f"已送回收件夹重新处理：{dest}")


@app.command("discard")
def quarantine_discard(
    ref: RefArg,
    reason: Annotated[str, typer.Option("--reason", help="丢弃原因（必填，记入审计日志）")],
    json_out: JsonOpt = False,
) -> None:
    """Delete a quarantined file for good, with a reason (audited)."""
    from app.context import app_context
    from app.quarantine import discard

    ctx = app_context()
    with ctx.session() as session:
        discard(session, settings=ctx.settings, ref=ref, actor=cli_actor(), reason=reason)
    if json_out:
        emit_json({"ref": ref, "discarded": True, "reason": reason})
        return
    console.print(f"已丢弃：{ref}")


def register(root: typer.Typer) -> None:
    """Add ``quarantine`` to the root ``dossier`` app (called by cli.main)."""
    root.add_typer(app, name="quarantine")
