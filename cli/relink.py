"""``dossier relink-pending``: link unlinked or provisionally linked documents whose customer is
now known (the same pass that runs after every intake pass; see :mod:`archive.relink`)."""

from __future__ import annotations

import typer

from app.context import app_context
from archive.relink import relink_pending
from cli.output import JsonOpt, console, emit_json


def relink_pending_command(json_out: JsonOpt = False) -> None:
    """重新关联：客户已知后，自动关联未关联或临时关联的资料 (relink pending documents)."""
    ctx = app_context()
    with ctx.session() as session:
        report = relink_pending(session, ctx.store, taxonomy=ctx.taxonomy).as_dict()
    if json_out:
        emit_json(report)
        return
    linked = report["linked"]
    console.print(f"已检查 {report['examined']} 份待关联资料，新关联 {len(linked)} 份")  # type: ignore[arg-type]
    for change in linked:  # type: ignore[attr-defined]
        was = f"（原 {change['previous_code']}）" if change["previous_code"] else ""
        console.print(f"  资料 #{change['document_id']} -> {change['customer_code']}{was}")
    if report["refile_failed"]:
        console.print(f"[yellow]未能移动对象的资料：{report['refile_failed']}[/yellow]")


def register(root: typer.Typer) -> None:
    """Add ``relink-pending`` to the root ``dossier`` app (called by cli.main)."""
    root.command("relink-pending")(relink_pending_command)
