"""The audit trail: an append-only table of who did what, when, to which record.

Append-only is enforced three times: the repository only ever inserts; a SQLAlchemy
``before_flush`` / ``do_orm_execute`` guard refuses ORM updates and deletes of
:class:`AuditEvent`; and database triggers (created by the migration, on SQLite and
PostgreSQL) refuse ``UPDATE`` and ``DELETE`` from any client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow
from models.errors import AuditImmutableError

SYSTEM_ACTOR = "system"


class AuditEvent(SQLModel, table=True):
    """One change. ``before``/``after`` hold the changed fields' values (JSON, never secrets)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=64, index=True)
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    detail: str | None = Field(default=None, sa_type=sa.Text)


sa.Index("ix_audit_event_entity", AuditEvent.entity_type, AuditEvent.entity_id)  # type: ignore[arg-type]


def _refuse(what: str) -> AuditImmutableError:
    return AuditImmutableError(f"审计记录只能追加，不能{what}")


@event.listens_for(OrmSession, "before_flush")
def _guard_flush(session: OrmSession, _context: Any, _instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEvent):
            raise _refuse("删除")
    for obj in session.dirty:
        if isinstance(obj, AuditEvent) and session.is_modified(obj):
            raise _refuse("修改")


@event.listens_for(OrmSession, "do_orm_execute")
def _guard_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) == AuditEvent.__tablename__:
        raise _refuse("删除" if state.is_delete else "修改")
