"""Reading integrity runs and their findings (written by ``archive.integrity.runs``)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from models.runs import IntegrityFinding, IntegrityRun


def list_integrity_runs(session: Session, *, limit: int = 50) -> list[IntegrityRun]:
    """Integrity runs, newest first."""
    query = select(IntegrityRun).order_by(
        col(IntegrityRun.started_at).desc(), col(IntegrityRun.id).desc()
    )
    return list(session.exec(query.limit(limit)).all())


def get_integrity_run(session: Session, *, run_id: str) -> IntegrityRun | None:
    return session.get(IntegrityRun, run_id)


def list_integrity_findings(
    session: Session, *, run_id: str, severity: str | None = None
) -> list[IntegrityFinding]:
    """The findings of one run (optionally of one severity), in id order."""
    query = select(IntegrityFinding).where(IntegrityFinding.run_id == run_id)
    if severity is not None:
        query = query.where(IntegrityFinding.severity == severity)
    return list(session.exec(query.order_by(col(IntegrityFinding.id))).all())
