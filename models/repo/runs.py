"""Ingest runs: one row per pass over the intake, started and finished with its counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlmodel import Session

from models.audit import SYSTEM_ACTOR
from models.errors import NotFoundError, ValidationError
from models.repo.audit import add_audit_event
from models.repo.base import atomic
from models.runs import IngestRun, RunStatus


def start_ingest_run(
    session: Session,
    *,
    host: str | None = None,
    actor: str = SYSTEM_ACTOR,
    run_id: str | None = None,
) -> IngestRun:
    """Record the start of an ingest run (status ``running``)."""
    with atomic(session):
        run = IngestRun(host=host, **({"id": run_id} if run_id else {}))
        session.add(run)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="ingest_run.start",
            entity_type="ingest_run",
            entity_id=run.id,
        )
    return run


def finish_ingest_run(
    session: Session,
    *,
    run_id: str,
    status: str = RunStatus.SUCCEEDED.value,
    counts: Mapping[str, int] | None = None,
    actor: str = SYSTEM_ACTOR,
) -> IngestRun:
    """Record the end of an ingest run with its counts.

    Raises:
        NotFoundError: No such run.
        ValidationError: Unknown status.
    """
    run = session.get(IngestRun, run_id)
    if run is None:
        raise NotFoundError(f"导入批次 {run_id} 不存在", run_id=run_id)
    if status not in {s.value for s in RunStatus}:
        raise ValidationError(f"状态“{status}”无效", field="status", reason="option_unknown")
    with atomic(session):
        run.status = status
        run.counts = dict(counts or {})
        run.finished_at = datetime.now(UTC)
        session.add(run)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="ingest_run.finish",
            entity_type="ingest_run",
            entity_id=run.id,
            after={"status": status, "counts": run.counts},
        )
    return run
