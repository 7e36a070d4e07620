"""The shared S3 intake's claim rows (``models.intake_pull``): claim, adopt, advance, release.

Operational state like web sessions: not audited (the document filed from the pulled file is
the trace, its ``submitted_by`` naming the object). Every write after the claim is conditional
on the caller's ``lease``: it returns False when another worker adopted the row meanwhile.
The caller commits right after each call, so a claim is visible to every other worker at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.db import utcnow
from models.intake_pull import OPEN_PULL_STATES, IntakePull

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def claim_intake_pull(
    session: Session,
    *,
    object_key: str,
    version: str,
    size: int,
    worker: str,
    stale_before: datetime,
) -> IntakePull | None:
    """Claim one listed object for ``worker``: insert its row, or adopt a stale open one.

    Returns:
        The row now held by ``worker`` (``state`` tells where the previous holder stopped:
        ``claimed`` or ``pulled``), or None when another worker holds it or it is finished.
    """
    existing = _find(session, object_key=object_key, version=version)
    if existing is None:
        row = IntakePull(
            object_key=object_key,
            version=version,
            size=size,
            worker=worker,
            lease=uuid.uuid4().hex,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # another worker inserted it first
            return None
        return row
    return adopt_intake_pull(session, row=existing, worker=worker, stale_before=stale_before)


def adopt_intake_pull(
    session: Session, *, row: IntakePull, worker: str, stale_before: datetime
) -> IntakePull | None:
    """Take over an open row whose holder's heartbeat is older than ``stale_before``."""
    if row.state not in OPEN_PULL_STATES or row.heartbeat_at >= stale_before:
        return None
    lease = uuid.uuid4().hex
    result = session.execute(
        sa.update(IntakePull)
        .where(col(IntakePull.id) == row.id, col(IntakePull.lease) == row.lease)
        .values(worker=worker, lease=lease, heartbeat_at=utcnow(), adopted_from=row.worker)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None  # a third worker adopted it first
    return session.get(IntakePull, row.id, populate_existing=True)


def stale_intake_pulls(
    session: Session, *, stale_before: datetime, limit: int = 1000
) -> list[IntakePull]:
    """Open rows whose holder stopped beating before ``stale_before`` (oldest first)."""
    return list(
        session.exec(
            select(IntakePull)
            .where(
                col(IntakePull.state).in_(OPEN_PULL_STATES),
                col(IntakePull.heartbeat_at) < stale_before,
            )
            .order_by(col(IntakePull.heartbeat_at))
            .limit(limit)
        ).all()
    )


def advance_intake_pull(
    session: Session,
    *,
    row: IntakePull,
    state: str,
    sha256: str | None = None,
    local_path: str | None = None,
    reason: str | None = None,
) -> bool:
    """Move a held row (read in an earlier session) to ``state``, recording what is given.

    Returns:
        False when the lease was lost (another worker adopted the row): nothing written.
    """
    now = utcnow()
    values: dict[str, object] = {"state": state, "heartbeat_at": now}
    if sha256 is not None:
        values["sha256"] = sha256
    if local_path is not None:
        values["local_path"] = local_path[:1024]
    if reason is not None:
        values["reason"] = reason[:500]
    if state not in OPEN_PULL_STATES:
        values["finished_at"] = now
    result = session.execute(
        sa.update(IntakePull)
        .where(col(IntakePull.id) == row.id, col(IntakePull.lease) == row.lease)
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for name, value in values.items():  # the caller's copy follows (it is not in ``session``)
        setattr(row, name, value)
    return True


def release_intake_pull(session: Session, *, row: IntakePull) -> bool:
    """Give a held row up after a transient fault, for the next pass of any worker.

    A mere claim is deleted (the object is pulled afresh); a ``pulled`` row is made stale at
    once (the next pass of any worker adopts it: finishes it when its bytes are filed, else
    resumes or pulls it again). False: the lease was lost.
    """
    held = (col(IntakePull.id) == row.id, col(IntakePull.lease) == row.lease)
    if row.state == "claimed":
        result = session.execute(sa.delete(IntakePull).where(*held))
    else:
        result = session.execute(sa.update(IntakePull).where(*held).values(heartbeat_at=_EPOCH))
    return result.rowcount == 1  # type: ignore[attr-defined]


def renew_intake_pulls(session: Session, *, held: Sequence[tuple[int, str]]) -> set[int]:
    """Renew the heartbeat of the open rows held under these ``(id, lease)`` pairs.

    Returns:
        The ids renewed; a missing one was adopted by another worker or is finished.
    """
    now = utcnow()
    renewed: set[int] = set()
    for row_id, lease in held:
        result = session.execute(
            sa.update(IntakePull)
            .where(
                col(IntakePull.id) == row_id,
                col(IntakePull.lease) == lease,
                col(IntakePull.state).in_(OPEN_PULL_STATES),
            )
            .values(heartbeat_at=now)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            renewed.add(row_id)
    return renewed


def pulled_intake_pulls_of(session: Session, *, host: str, under: str) -> list[IntakePull]:
    """Rows in state ``pulled`` held by a worker on ``host`` whose file was handed in to a
    folder under ``under`` (one machine's intake): what a pass there may resume."""
    rows = session.exec(
        select(IntakePull)
        .where(
            col(IntakePull.state) == "pulled",
            col(IntakePull.worker).startswith(f"{host}:", autoescape=True),
            col(IntakePull.local_path).startswith(under, autoescape=True),
        )
        .order_by(col(IntakePull.id))
    ).all()
    return list(rows)


def _find(session: Session, *, object_key: str, version: str) -> IntakePull | None:
    return session.exec(
        select(IntakePull).where(IntakePull.object_key == object_key, IntakePull.version == version)
    ).first()


__all__ = [
    "adopt_intake_pull",
    "advance_intake_pull",
    "claim_intake_pull",
    "pulled_intake_pulls_of",
    "release_intake_pull",
    "renew_intake_pulls",
    "stale_intake_pulls",
]
