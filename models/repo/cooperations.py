"""Cooperation records of a customer, and the customer fields that follow from them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from config.taxonomy import Taxonomy
from models.cooperation import (
    COOPERATION_FIELDS,
    Cooperation,
    check_cooperation_order,
    validate_cooperation_values,
)
from models.customer import Customer
from models.db import utcnow
from models.repo.audit import add_audit_event
from models.repo.base import atomic, snapshot
from models.repo.options import held_values, options_in_effect

#: Customer fields :func:`set_customer_derived` may write.
DERIVED_WRITABLE = (
    "cumulative_amount",
    "first_cooperation_date",
    "latest_cooperation_date",
    "annual_amount",
    "value_tier",
    "level",
    "level_reason",
    "manual_fields",
    "follow_up_status",
)


def add_cooperation(
    session: Session,
    *,
    customer: Customer,
    data: Mapping[str, Any],
    actor: str,
    taxonomy: Taxonomy | None = None,
) -> Cooperation:
    """Add a cooperation record to ``customer``.

    Raises:
        ValidationError: Missing name, a bad date or amount, an unknown status, dates out of order.
    """
    values = validate_cooperation_values(data, taxonomy=options_in_effect(session, taxonomy))
    check_cooperation_order(values)
    with atomic(session):
        record = Cooperation(
            customer_id=customer.id,  # type: ignore[arg-type]
            created_by=actor,
            updated_by=actor,
            **values,
        )
        session.add(record)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="cooperation.create",
            entity_type="cooperation",
            entity_id=record.id or "",
            after={"customer": customer.code, **snapshot(record, COOPERATION_FIELDS)},
        )
    return record


def update_cooperation(
    session: Session,
    *,
    record: Cooperation,
    changes: Mapping[str, Any],
    actor: str,
    taxonomy: Taxonomy | None = None,
) -> Cooperation:
    """Change some fields of a cooperation record (``None`` clears one; not the name).

    Raises:
        ValidationError: A changed value breaks a rule (nothing is written).
    """
    taxonomy = options_in_effect(session, taxonomy, keep=held_values(record))
    values = validate_cooperation_values(changes, taxonomy=taxonomy, partial=True)
    merged = {name: getattr(record, name) for name in COOPERATION_FIELDS} | values
    check_cooperation_order(merged)
    changed = [n for n, v in values.items() if getattr(record, n) != v]
    if not changed:
        return record
    before = snapshot(record, changed)
    with atomic(session):
        for name in changed:
            setattr(record, name, values[name])
        record.updated_by, record.updated_at = actor, utcnow()
        session.add(record)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="cooperation.update",
            entity_type="cooperation",
            entity_id=record.id or "",
            before=before,
            after=snapshot(record, changed),
        )
    return record


def delete_cooperation(session: Session, *, record: Cooperation, actor: str) -> None:
    """Remove a cooperation record; the audit event keeps every field it had."""
    customer = session.get(Customer, record.customer_id)
    before = {
        "customer": customer.code if customer else None,
        **snapshot(record, COOPERATION_FIELDS),
    }
    with atomic(session):
        session.execute(sa.delete(Cooperation).where(col(Cooperation.id) == record.id))
        add_audit_event(
            session,
            actor=actor,
            action="cooperation.delete",
            entity_type="cooperation",
            entity_id=record.id or "",
            before=before,
        )
    session.expunge(record)


def get_cooperation(session: Session, *, cooperation_id: int) -> Cooperation | None:
    """The cooperation record with this id, or None."""
    return session.get(Cooperation, cooperation_id)


def list_cooperations(session: Session, *, customer_id: int) -> list[Cooperation]:
    """A customer's cooperation records, newest signed first (unsigned last)."""
    query = (
        select(Cooperation)
        .where(Cooperation.customer_id == customer_id)
        .order_by(col(Cooperation.signed_date).desc().nulls_last(), col(Cooperation.id).desc())
    )
    return list(session.exec(query).all())


def cooperations_by_customer(
    session: Session, *, customer_ids: Collection[int]
) -> dict[int, list[Cooperation]]:
    """The records of many customers in one query (a bulk import), each customer's in the order
    of :func:`list_cooperations`; a customer without records is absent."""
    out: dict[int, list[Cooperation]] = {}
    if not customer_ids:
        return out
    query = (
        select(Cooperation)
        .where(col(Cooperation.customer_id).in_(set(customer_ids)))
        .order_by(col(Cooperation.signed_date).desc().nulls_last(), col(Cooperation.id).desc())
    )
    for record in session.exec(query):
        out.setdefault(record.customer_id, []).append(record)
    return out


def set_customer_derived(
    session: Session,
    *,
    customer: Customer,
    values: Mapping[str, Any],
    actor: str,
    detail: str | None = None,
    bump_version: bool = True,
) -> list[str]:
    """Write derived customer fields (totals, tier, level, manual flags), audited.

    The values are computed by ``archive.cooperations`` from validated records, so they are
    not validated again. ``bump_version`` (the default) makes an editor who opened the record
    before this change save against a stale version (optimistic concurrency).

    Returns:
        The names of the fields that changed (empty: nothing written).
    """
    unknown = set(values) - set(DERIVED_WRITABLE)
    if unknown:
        raise ValueError(f"not derived customer fields: {sorted(unknown)}")
    changed = [n for n, v in values.items() if getattr(customer, n) != v]
    if not changed:
        return []
    before = snapshot(customer, changed)
    with atomic(session):
        for name in changed:
            setattr(customer, name, values[name])
        customer.updated_by, customer.updated_at = actor, utcnow()
        if bump_version:
            customer.version += 1
        session.add(customer)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="customer.derive",
            entity_type="customer",
            entity_id=customer.code,
            before=before,
            after=snapshot(customer, changed),
            detail=detail,
        )
    return changed
