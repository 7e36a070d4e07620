"""``dossier ingest``: one pass over the intake (or ``--watch``), a progress bar, a table."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.intake_pass import Outcome
from cli.labels import OUTCOME_LABELS, reasons_text
from cli.output import console, emit_json, err
from config.taxonomy import Taxonomy
from ingest.quarantine import reason_label

if TYPE_CHECKING:
    from app.context import AppContext


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
    watch: Annotated[bool, typer.Option("--watch", help="持续监视收件夹")] = False,
    now: Annotated[
        bool, typer.Option("--now", help="不等待文件写完稳定（一次性导入）")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="输出 JSON（机器可读）")] = False,
    use_prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--no-prefect",
            help="作为 Prefect 流程运行；默认仅当 Prefect 服务器可达时"
            "（dossier serve 正在运行，或设置了 PREFECT_API_URL）",
        ),
    ] = None,
) -> None:
    """Ingest the intake folder: searchable PDFs, named, filed, linked, with a review status.

    Ctrl-C or SIGTERM: no new file is taken, files in progress finish (shutdown_grace_seconds).
    """
    from app.context import app_context

    ctx = app_context()  # an unreachable or unmigrated database stops here (exit 3, cli.main)
    run_pass = _pass_runner(ctx, use_prefect)
    if watch:
        from app.intake_watch import watch_intake

        watch_intake(run_once=lambda: run_pass(True, None, None))
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

        report = run_pass(not now, on_claims, on_outcome)
    _print_report(report, ctx.taxonomy, json_out)
    if report.get("stopped"):
        err.print("已停止：未处理完的文件已放回收件夹")
        raise typer.Exit(130)


PassRunner = Callable[[bool, Callable[[int], None] | None, Callable[[Outcome], None] | None], dict]


def _pass_runner(ctx: AppContext, use_prefect: bool | None) -> PassRunner:
    """One pass as the Prefect flow (reporting to the server that answers) or, without a
    server, the plain function: no Prefect import, processing starts at once."""
    from app.prefect_address import use_flows

    if use_flows(ctx.settings, use_prefect):
        logging.getLogger("prefect").setLevel(logging.WARNING)
        from flows.ingest import ProgressHooks, ingest_intake

        return lambda settle, on_claims, on_outcome: ingest_intake(
            settle=settle, hooks=ProgressHooks(on_claims, on_outcome)
        )
    from app.intake_run import run_intake

    return lambda settle, on_claims, on_outcome: run_intake(
        ctx, settle=settle, on_claims=on_claims, on_outcome=on_outcome
    ).as_dict()


def _print_report(report: dict, taxonomy: Taxonomy, json_out: bool) -> None:
    if json_out:
        emit_json(report)
        return
    if not report["files"]:
        console.print("收件夹中没有待处理的文件。")
        return
    console.print(_outcome_table(report, taxonomy))
    console.print(
        "  ".join(f"{OUTCOME_LABELS.get(k, k)} {v}" for k, v in sorted(report["counts"].items()))
    )


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
