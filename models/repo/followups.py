"""Follow-ups of a customer: added (audited), listed newest first; never changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from config.taxonomy import Taxonomy
from models.customer import Customer
from models.followup import FOLLOW_UP_LABELS, FollowUp, validate_follow_up_values
from models.repo.audit import add_audit_event
from models.repo.base import atomic, snapshot
from models.repo.options import options_in_effect


def add_follow_up(
    session: Session,
    *,
    customer: Customer,
    data: Mapping[str, Any],
    actor: str,
    taxonomy: Taxonomy | None = None,
) -> FollowUp:
    """Record a follow-up of ``customer``; ``followed_by`` defaults to ``actor``.

    Raises:
        ValidationError: Missing content, a bad time or date, an unknown channel or status.
    """
    values = validate_follow_up_values(data, taxonomy=options_in_effect(session, taxonomy))
    values["followed_by"] = values.get("followed_by") or actor
    with atomic(session):
        entry = FollowUp(customer_id=customer.id, created_by=actor, **values)  # type: ignore[arg-type]
        session.add(entry)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="follow_up.create",
            entity_type="follow_up",
            entity_id=entry.id or "",
            after={"customer": customer.code, **snapshot(entry, tuple(FOLLOW_UP_LABELS))},
        )
    return entry


def list_follow_ups(
    session: Session, *, customer_id: int, limit: int = 100, offset: int = 0
) -> list[FollowUp]:
    """A customer's follow-ups, newest first."""
    query = (
        select(FollowUp)
        .where(FollowUp.customer_id == customer_id)
        .order_by(col(FollowUp.followed_at).desc(), col(FollowUp.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(query).all())
