"""One intake pass with everything it needs built from the settings: the isolated worker pool,
the services, then :func:`app.intake_pass.run_pass`. ``dossier ingest`` calls it directly when
no Prefect server is reachable; the flow ``ingest-intake`` calls it with Prefect task runs."""

from __future__ import annotations

from collections.abc import Callable

from app.context import AppContext
from app.intake_pass import Executor, IngestServices, Outcome, RunReport, run_pass
from ingest.isolation import IsolatedPool


def run_intake(
    ctx: AppContext,
    *,
    settle: bool = True,
    on_claims: Callable[[int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    executor: Callable[[IngestServices], Executor] | None = None,
) -> RunReport:
    """Initialize (idempotent), then run one pass over the intake.

    Args:
        ctx: Settings, engine and store.
        settle: Take only files unchanged for ``settle_seconds`` (False: everything now).
        on_claims: Told how many files were claimed (progress bar).
        on_outcome: Told each outcome as it is known.
        executor: Builds how claims are processed (default: a thread pool of
            ``Settings.workers``; the flow passes Prefect task runs).
    """
    s = ctx.settings
    ctx.initialize()
    with IsolatedPool(
        s.workers, timeout_seconds=s.file_timeout_seconds, memory_limit_mb=s.memory_limit_mb
    ) as pool:
        services = IngestServices(settings=s, engine=ctx.engine, store=ctx.store, pool=pool)
        return run_pass(
            services,
            settle=settle,
            execute=executor(services) if executor else None,
            on_claims=on_claims,
            on_outcome=on_outcome,
        )
