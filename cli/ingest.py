"""``dossier ingest``: one pass over the intake (or ``--watch``), a progress bar, a table."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.intake_pass import Outcome
from cli.labels import OUTCOME_LABELS, reasons_text
from cli.output import console, emit_json, err
from config.taxonomy import Taxonomy
from ingest.quarantine import reason_label


def _outcome_table(report: dict, taxonomy: Taxonomy) -> Table:
    table = Table(title=f"收件处理结果（{report['run_id'][:8]}）")
    for col in ("文件", "结果", "资料", "归档位置", "原因"):
        table.add_column(col, overflow="fold")
    for f in report["files"]:
        docs = f["documents"]
        table.add_row(
            f["source"],
            OUTCOME_LABELS.get(f["outcome"], f["outcome"]),
            "\n".join(
                f"#{d['id']} {taxonomy.document_type(d['document_type']).label}"
                f" {taxonomy.document_status_label(d['status'])}"
                for d in docs
            ),
            "\n".join(d["pdf_key"] for d in docs) or (f["quarantine_path"] or ""),
            _reason_cell(f, taxonomy),
        )
    return table


def _reason_cell(f: dict, taxonomy: Taxonomy) -> str:
    """The quarantine reason (its Chinese label and message), else each document's reasons."""
    if f.get("reason"):
        return reason_label(str(f["reason"]), f.get("message"))
    if f.get("message"):
        return str(f["message"])
    lines = [reasons_text(taxonomy, d["review_reasons"]) for d in f["documents"]]
    return "\n".join(line or "二次核验" for line in lines)


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

    ctx = app_context()  # an unreachable or unmigrated database stops here (exit 3, cli.main)

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
    console.print(_outcome_table(report, ctx.taxonomy))
    console.print(
        "  ".join(f"{OUTCOME_LABELS.get(k, k)} {v}" for k, v in sorted(report["counts"].items()))
    )


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
