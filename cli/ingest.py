"""``dossier ingest``: one pass over the intake (or ``--watch``), a progress bar, a table."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.intake_pass import Outcome
from cli.output import console, emit_json, err

OUTCOME_LABELS = {
    "archived": "已归档",
    "needs_review": "待审核",
    "quarantined": "已隔离",
    "duplicate": "重复文件",
    "recovered": "已恢复",
    "retry": "稍后重试",
}


def _outcome_table(report: dict) -> Table:
    table = Table(title=f"收件处理结果（{report['run_id'][:8]}）")
    for col in ("文件", "结果", "资料", "归档位置", "原因"):
        table.add_column(col, overflow="fold")
    for f in report["files"]:
        docs = f["documents"]
        table.add_row(
            f["source"],
            OUTCOME_LABELS.get(f["outcome"], f["outcome"]),
            "\n".join(f"#{d['id']} {d['document_type']} {d['status']}" for d in docs),
            "\n".join(d["pdf_key"] for d in docs) or (f["quarantine_path"] or ""),
            f["message"]
            or "\n".join(
                ", ".join(r for r in d["review_reasons"] if r != "second_check") for d in docs
            ),
        )
    return table


def ingest(
    watch: Annotated[bool, typer.Option("--watch", help="Keep watching the intake.")] = False,
    now: Annotated[
        bool, typer.Option("--now", help="Do not wait for files to settle (one-shot imports).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> None:
    """Ingest the intake folder: searchable PDFs, named, filed, linked, with a review status."""
    from app.context import app_context
    from flows.ingest import ProgressHooks, ingest_intake

    app_context()  # an unreachable or unmigrated database stops here (exit 3, cli.main)

    logging.getLogger("prefect").setLevel(logging.WARNING)
    if watch:
        from flows.watch import watch_intake

        watch_intake(run_once=lambda: ingest_intake(settle=True))
        return
    with Progress(
        TextColumn("[bold]收件处理"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=json_out,
    ) as progress:
        bar = progress.add_task("", total=None)

        def on_claims(n: int) -> None:
            progress.update(bar, total=n)

        def on_outcome(o: Outcome) -> None:
            progress.update(bar, advance=1, description=o.source)

        report = ingest_intake(settle=not now, hooks=ProgressHooks(on_claims, on_outcome))
    if json_out:
        emit_json(report)
        return
    if not report["files"]:
        console.print("收件夹中没有待处理的文件。")
        return
    console.print(_outcome_table(report))
    console.print(
        "  ".join(f"{OUTCOME_LABELS.get(k, k)} {v}" for k, v in sorted(report["counts"].items()))
    )


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
