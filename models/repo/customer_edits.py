"""Edits of many customers at once (a bulk import): checked once, written per batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from config.taxonomy import Taxonomy
from models.customer import Customer, name_keys
from models.db import utcnow
from models.repo.audit import add_audit_events
from models.repo.base import atomic, snapshot
from models.repo.customers import (
    SEARCHED_FIELDS,
    _check_owner,
    _check_unique_ids,
    _conflict_from_integrity,
    _updated_values,
)
from models.repo.search_grams import refresh_search_grams


def edited_values(
    customer: Customer, given: Mapping[str, Any], *, taxonomy: Taxonomy | None
) -> dict[str, Any]:
    """The customer's values after ``given``, the whole record checked with the editor's rules
    (as :func:`update_customer` checks an edit; a bulk import plans its edits with it).

    Raises:
        ValidationError: The changed record breaks a rule.
    """
    return _updated_values(customer, given, taxonomy=taxonomy, from_document=False)


def _edit_events(
    customer: Customer, changes: Mapping[str, Any], derived: Mapping[str, Any], actor: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The columns an edit writes (changed fields, then the changed derived ones) and its audit
    events: ``customer.update`` and ``customer.derive``, before/after as the editor writes them."""
    changed = [n for n, v in changes.items() if getattr(customer, n) != v]
    edited = SimpleNamespace(**{n: changes.get(n, getattr(customer, n)) for n in derived})
    moved = [n for n, v in derived.items() if getattr(edited, n) != v]
    base = {"actor": actor, "entity_type": "customer", "entity_id": customer.code}
    events = []
    if changed:
        events.append(base | {"action": "customer.update", "before": snapshot(customer, changed),
                              "after": snapshot(SimpleNamespace(**changes), changed)})  # fmt: skip
    if moved:
        events.append(base | {"action": "customer.derive", "before": snapshot(edited, moved),
                              "after": snapshot(SimpleNamespace(**derived), moved)})  # fmt: skip
    return {n: changes[n] for n in changed} | {n: derived[n] for n in moved}, events


def update_customers(
    session: Session,
    *,
    edits: Sequence[tuple[Customer, Mapping[str, Any], Mapping[str, Any]]],
    actor: str,
) -> list[int]:
    """Write many edits at once (a bulk import) as :func:`update_customer`, then
    ``set_customer_derived`` and the editor's version bump would one by one.

    Each edit is (the customer as loaded, its changed fields with checked values, its derived
    fields as ``archive.tiers`` computes them after the change). Per customer one UPDATE that
    writes only if the version is still the one loaded (optimistic concurrency) and bumps it;
    the ``customer.update`` / ``customer.derive`` audit events of all in one INSERT. The
    customers written are expired (read again when next used).

    Returns:
        The ids of the customers someone saved after they were loaded (nothing of theirs
        written).

    Raises:
        ValidationError: An owner that does not exist (nothing is written).
        ConflictError: A USCC or ID number already belongs to another customer (nothing is
            written).
    """
    for customer, changes, _ in edits:
        if "owner_id" in changes:
            _check_owner(session, changes["owner_id"])
        if "uscc" in changes or "id_number" in changes:
            _check_unique_ids(session, [changes], exclude_id=customer.id)
    table, stamp = Customer.__table__, utcnow()  # type: ignore[attr-defined]
    stale: list[int] = []
    events: list[dict[str, Any]] = []
    renamed: list[int] = []
    try:
        with atomic(session):
            for customer, changes, derived in edits:
                values, written = _edit_events(customer, changes, derived, actor)
                if not values:
                    continue
                state = {n: values.get(n, getattr(customer, n))
                         for n in ("name", "legal_representative")}  # fmt: skip
                result = session.execute(
                    sa.update(table)
                    .where(table.c.id == customer.id, table.c.version == customer.version)
                    .values(**values, **name_keys(state["name"], state["legal_representative"]),
                            updated_by=actor, updated_at=stamp, version=customer.version + 1)
                )  # fmt: skip
                if result.rowcount != 1:
                    stale.append(customer.id)  # type: ignore[arg-type]
                    continue
                events += written
                if SEARCHED_FIELDS & set(values):
                    renamed.append(customer.id)  # type: ignore[arg-type]
                session.expire(customer)
            if renamed:  # the short-term search's grams follow the names (one home)
                refresh_search_grams(session, renamed)
            add_audit_events(session, events)
    except IntegrityError as e:
        raise _conflict_from_integrity(e) from e
    return stale
