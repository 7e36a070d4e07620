"""The archive check as plain functions (no Prefect): settings -> engine and store -> run the
checks -> (repair) -> store findings compared with the previous run -> summary.

``dossier check`` calls :func:`run_integrity_check` directly when no Prefect server is
reachable; the flow ``check-archive`` (flows/integrity.py) runs the same steps as task runs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from app.context import AppContext
from archive.integrity import (
    CheckOptions,
    CheckReport,
    Mode,
    QuarantineItem,
    RepairAction,
    record_run,
    repair,
    run_checks,
)
from ingest.quarantine import list_quarantine
from models.db import session_scope


def quarantine_items(quarantine_dir: Path | str | None) -> list[QuarantineItem]:
    """The quarantine folder's entries as plain items for the archive check."""
    if quarantine_dir is None:
        return []
    root = Path(quarantine_dir)
    items = []
    for entry in list_quarantine(root):
        path = entry.path or entry.record_path
        if path is None:
            continue
        items.append(
            QuarantineItem(
                name=path.relative_to(root).as_posix(),
                reason=entry.reason,
                quarantined_at=entry.quarantined_at,
                problem=entry.problem,
            )
        )
    return items


def checks(ctx: AppContext, options: CheckOptions) -> CheckReport:
    return run_checks(
        engine=ctx.engine,
        store=ctx.store,
        taxonomy=ctx.taxonomy,
        options=options,
        quarantine=quarantine_items(ctx.settings.quarantine_dir),
    )


def repair_findings(ctx: AppContext, report: CheckReport) -> list[RepairAction]:
    return repair(engine=ctx.engine, store=ctx.store, findings=report.findings)


def record(ctx: AppContext, report: CheckReport, actions: list[RepairAction]) -> dict[str, Any]:
    with session_scope(ctx.engine) as session:
        return record_run(session, report=report, repairs=actions)


def run_integrity_check(
    ctx: AppContext,
    *,
    mode: Mode | str = Mode.FULL,
    repair_: bool = False,
    now: datetime | None = None,
    deep: bool = False,
) -> dict[str, Any]:
    """Check, optionally repair, record; return the summary (see ``archive.integrity.record_run``).

    Args:
        ctx: Settings, engine and store.
        mode: ``full``, ``incremental`` or ``metadata``.
        repair_: Repair what can be repaired (never destructive, audited).
        now: Reference time (default: now).
        deep: Open every PDF read with pypdf, also bytes whose PDF facts are already proven.
    """
    options = CheckOptions.from_settings(ctx.settings, mode=mode, now=now, deep=deep)
    report = checks(ctx, options)
    actions = repair_findings(ctx, report) if repair_ else []
    return record(ctx, report, actions)
