"""The Prefect flow ``ingest-intake``: a thin wrapper over :func:`app.intake_run.run_intake`.

Each file is its own task run, retried for transient faults (storage, database); one bad file
never fails the others (its outcome is a quarantine, not an exception). Concurrency is bounded
by ``Settings.workers``: as many task threads as isolated worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from app.context import app_context
from app.intake_pass import (
    IngestServices,
    OnDone,
    Outcome,
    RunReport,
    is_transient,
    process_claim,
)
from app.intake_run import run_intake
from ingest import intake
from ingest.errors import WorkerInterruptedError


@dataclass
class ProgressHooks:
    on_claims: Callable[[int], None] | None = None
    on_outcome: Callable[[Outcome], None] | None = None


def _retry_transient(task_, task_run, state) -> bool:  # type: ignore[no-untyped-def]
    try:
        state.result()
    except WorkerInterruptedError:
        return False  # stopping: the file goes back to the intake now, not after retries
    except Exception as e:  # noqa: BLE001
        return is_transient(e)
    return False


process_claim_task = task(
    process_claim,
    name="process-file",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_transient,
    cache_policy=NO_CACHE,
    task_run_name="process {claim.display_name}",
)


def prefect_executor(services: IngestServices) -> Callable[[Sequence[intake.Claim], OnDone], None]:
    def execute(claims: Sequence[intake.Claim], on_done: OnDone) -> None:
        futures = {process_claim_task.submit(c, services=services): c for c in claims}
        for future in as_completed(list(futures)):
            claim = futures[future]
            try:
                on_done(claim, future.result())
            except Exception as e:  # noqa: BLE001 - transient after retries: handed back
                on_done(claim, e)

    return execute


def markdown_report(report: RunReport) -> str:
    lines = [
        f"# 收件处理 {report.run_id}",
        "",
        " ".join(f"**{k}**: {v}" for k, v in sorted(report.counts.items())) or "没有文件",
        "",
        "| 文件 | 结果 | 资料 | 原因 |",
        "|---|---|---|---|",
    ]
    for o in report.outcomes:
        docs = ", ".join(f"#{d.document_id} {d.pdf_key}" for d in o.documents)
        lines.append(f"| {o.source} | {o.kind} | {docs} | {o.reason or ''} {o.message or ''} |")
    return "\n".join(lines)


@flow(
    name="ingest-intake",
    task_runner=ThreadPoolTaskRunner(max_workers=8),  # the real bound is Settings.workers
    validate_parameters=False,
)
def ingest_intake(settle: bool = True, hooks: ProgressHooks | None = None) -> dict[str, object]:
    """Ingest every settled file in the intake folder; returns the counts per outcome.

    ``hooks`` (used by the CLI for its progress bar) is not part of a deployment's parameters.
    """
    ctx = app_context(check_schema=False)  # run_intake initializes (idempotent)
    hooks = hooks or ProgressHooks()
    report = run_intake(
        ctx,
        settle=settle,
        on_claims=hooks.on_claims,
        on_outcome=hooks.on_outcome,
        executor=prefect_executor,
    )
    if report.outcomes:  # an empty pass leaves no artifact (one a minute under serve)
        create_markdown_artifact(
            markdown_report(report), key="ingest-report", description="dossier intake run"
        )
    return report.as_dict()
