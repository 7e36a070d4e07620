"""Recording runs: a run's findings compared with the previous run's (new, open, resolved), the
stored run and its JSON summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlmodel import Session, col, select

from archive.integrity.findings import (
    CONTENT_KINDS,
    KINDS,
    CheckReport,
    Finding,
    Mode,
    RepairAction,
    exit_code_for,
)
from archive.integrity.rows import _batched
from models import repo
from models.audit import SYSTEM_ACTOR
from models.db import utcnow
from models.runs import FindingStatus, IntegrityFinding, IntegrityRun, RunStatus, Severity


def _previous_open(session: Session) -> tuple[str | None, dict[str, IntegrityFinding]]:
    previous = session.exec(
        select(IntegrityRun)
        .where(col(IntegrityRun.status) == RunStatus.SUCCEEDED.value)
        .order_by(col(IntegrityRun.started_at).desc())
        .limit(1)
    ).first()
    if previous is None:
        return None, {}
    rows = session.exec(
        select(IntegrityFinding).where(
            col(IntegrityFinding.run_id) == previous.id,
            col(IntegrityFinding.status) != FindingStatus.RESOLVED.value,
        )
    ).all()
    return previous.id, {row.fingerprint: row for row in rows}


def _row_of(run_id: str, f: Finding, status: FindingStatus) -> IntegrityFinding:
    detail = {**f.detail, "message": f.message}
    if f.subject:
        detail["subject"] = f.subject
    return IntegrityFinding(
        run_id=run_id,
        severity=str(f.severity),
        kind=f.kind,
        document_id=f.document_id,
        object_key=f.object_key,
        detail=detail,
        fingerprint=f.fingerprint,
        status=status.value,
    )


def _copy_row(
    run_id: str, old: IntegrityFinding, status: FindingStatus, **extra: Any
) -> IntegrityFinding:
    return IntegrityFinding(
        run_id=run_id,
        severity=old.severity,
        kind=old.kind,
        document_id=old.document_id,
        object_key=old.object_key,
        detail={**(old.detail or {}), **extra},
        fingerprint=old.fingerprint,
        status=status.value,
    )


def compare_with_previous(
    run_id: str,
    findings: Iterable[Finding],
    *,
    mode: Mode,
    previous: Mapping[str, IntegrityFinding],
    previous_run_id: str | None,
) -> list[IntegrityFinding]:
    """This run's finding rows: new or open, plus the previous run's resolved ones.

    A metadata run cannot see content problems; it carries the previous run's open ones over
    (still open) instead of calling them resolved.
    """
    rows: dict[str, IntegrityFinding] = {}
    for f in findings:
        if f.fingerprint not in rows:
            status = FindingStatus.OPEN if f.fingerprint in previous else FindingStatus.NEW
            rows[f.fingerprint] = _row_of(run_id, f, status)
    for fp, old in previous.items():
        if fp in rows:
            continue
        if mode == Mode.METADATA and old.kind in CONTENT_KINDS:
            rows[fp] = _copy_row(run_id, old, FindingStatus.OPEN, carried_over_from=previous_run_id)
        else:
            rows[fp] = _copy_row(run_id, old, FindingStatus.RESOLVED)
    return list(rows.values())


def finding_record(row: IntegrityFinding) -> dict[str, Any]:
    """A stored finding as a JSON-ready dictionary (stable field names)."""
    detail = dict(row.detail or {})
    message = detail.pop("message", None)
    detail.pop("subject", None)
    return {
        "fingerprint": row.fingerprint,
        "kind": row.kind,
        "label": KINDS.get(row.kind, (None, row.kind))[1],
        "severity": row.severity,
        "status": row.status,
        "document_id": row.document_id,
        "object_key": row.object_key,
        "message": message,
        "detail": detail,
    }


def _counts(report: CheckReport, rows: Sequence[IntegrityFinding], repairs: int) -> dict[str, int]:
    live = [r for r in rows if r.status != FindingStatus.RESOLVED.value]
    by_sev = Counter(r.severity for r in live)
    by_status = Counter(r.status for r in rows)
    counts = {
        k: int(report.stats.get(k, 0))
        for k in (
            "documents",
            "objects",
            "hashed_objects",
            "hashed_bytes",
            "opened_pdfs",
            "listed_objects",
            "customers",
        )
    }
    counts.update({str(s): by_sev.get(str(s), 0) for s in Severity})
    counts.update({str(s): by_status.get(str(s), 0) for s in FindingStatus})
    counts["repairs"] = repairs
    return counts


def record_run(
    session: Session,
    *,
    report: CheckReport,
    repairs: Sequence[RepairAction] = (),
    actor: str = SYSTEM_ACTOR,
) -> dict[str, Any]:
    """Store a run and its findings compared with the previous run; return the summary.

    The caller commits. The summary (stable JSON field names): ``run_id``, ``mode``,
    ``started_at``, ``finished_at``, ``previous_run_id``, ``exit_code``, ``counts``,
    ``findings`` (see :func:`finding_record`, resolved ones included) and ``repairs``.
    """
    previous_id, previous = _previous_open(session)
    run = IntegrityRun(
        mode=str(report.mode),
        started_at=report.started_at,
        finished_at=report.finished_at or utcnow(),
        status=RunStatus.SUCCEEDED.value,
    )
    session.add(run)
    session.flush()
    rows = compare_with_previous(
        run.id, report.findings, mode=report.mode, previous=previous, previous_run_id=previous_id
    )
    for batch in _batched(rows, 1000):
        session.add_all(batch)
        session.flush()
    run.counts = _counts(report, rows, sum(1 for r in repairs if r.ok))
    session.add(run)
    repo.add_audit_event(
        session,
        actor=actor,
        action="integrity_run.record",
        entity_type="integrity_run",
        entity_id=run.id,
        after={"mode": run.mode, "counts": run.counts},
    )
    live = [r for r in rows if r.status != FindingStatus.RESOLVED.value]
    return {
        "run_id": run.id,
        "mode": run.mode,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "previous_run_id": previous_id,
        "exit_code": exit_code_for(r.severity for r in live),
        "counts": dict(run.counts),
        "findings": [finding_record(r) for r in _sorted_rows(rows)],
        "repairs": [repair_record(a) for a in repairs],
    }


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_STATUS_ORDER = {"new": 0, "open": 1, "resolved": 2}


def _sorted_rows(rows: Iterable[IntegrityFinding]) -> list[IntegrityFinding]:
    return sorted(
        rows,
        key=lambda r: (
            _STATUS_ORDER.get(r.status, 3),
            _SEVERITY_ORDER.get(r.severity, 3),
            r.kind,
            r.object_key or "",
            r.document_id or 0,
        ),
    )


def repair_record(action: RepairAction) -> dict[str, Any]:
    """A repair action as a JSON-ready dictionary."""
    return {
        "action": action.action,
        "object_key": action.object_key,
        "target_key": action.target_key,
        "document_id": action.document_id,
        "ok": action.ok,
        "message": action.message,
    }
