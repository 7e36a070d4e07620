"""Cooperation records (合作记录) of a customer: add, edit, remove, list; totals follow (issue 15).

Plain functions taking ``session``, ``settings`` and ``actor``; the caller commits. Sales users
reach only their own customers' records (others: :class:`NotFoundError`). Every change
refreshes the customer's derived fields (:mod:`archive.tiers`) and bumps its version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from archive.customers import get_visible
from archive.tiers import refresh_customer
from config.settings import Settings
from models import repo
from models.cooperation import Cooperation
from models.customer import Customer
from models.repo import NotFoundError
from models.repo.base import lock_row
from models.user import User


def list_cooperations(session: Session, actor: User, code: str) -> list[Cooperation]:
    """The cooperation records of a customer ``actor`` may see, newest signed first.

    Raises:
        NotFoundError: No such customer or not visible to ``actor``.
    """
    customer = get_visible(session, actor, code)
    return repo.list_cooperations(session, customer_id=customer.id)  # type: ignore[arg-type]


def add_cooperation(
    session: Session, settings: Settings, actor: User, code: str, values: Mapping[str, Any]
) -> tuple[Cooperation, Customer]:
    """Add a cooperation record to a customer ``actor`` may see, then refresh the totals.

    Returns:
        The record and the customer (with its new totals, tier, level and version).

    Raises:
        NotFoundError: No such customer or not visible to ``actor``.
        ValidationError: A value breaks a rule (nothing is written).
    """
    customer = get_visible(session, actor, code)
    customer = lock_row(session, Customer, customer.id)  # type: ignore[arg-type]
    record = repo.add_cooperation(
        session, customer=customer, data=values, actor=actor.username, taxonomy=settings.taxonomy
    )
    refresh_customer(
        session, settings, customer, actor=actor.username, detail=f"合作记录 #{record.id}"
    )
    return record, customer


def _visible_record(
    session: Session, actor: User, cooperation_id: int, *, lock: bool = True
) -> tuple[Cooperation, Customer]:
    """The record and its customer (locked for a change) if ``actor`` may see the customer."""
    record = repo.get_cooperation(session, cooperation_id=cooperation_id)
    customer = session.get(Customer, record.customer_id) if record is not None else None
    if record is None or customer is None:
        raise NotFoundError(f"合作记录 #{cooperation_id} 不存在", cooperation_id=cooperation_id)
    try:
        get_visible(session, actor, customer.code)
    except NotFoundError as e:
        raise NotFoundError(
            f"合作记录 #{cooperation_id} 不存在", cooperation_id=cooperation_id
        ) from e
    if not lock:
        return record, customer
    return record, lock_row(session, Customer, customer.id)  # type: ignore[arg-type]


def get_cooperation(
    session: Session, actor: User, cooperation_id: int
) -> tuple[Cooperation, Customer]:
    """A cooperation record and its customer, if ``actor`` may see the customer.

    Raises:
        NotFoundError: No such record, or its customer is not visible to ``actor``.
    """
    return _visible_record(session, actor, cooperation_id, lock=False)


def edit_cooperation(
    session: Session,
    settings: Settings,
    actor: User,
    cooperation_id: int,
    changes: Mapping[str, Any],
) -> tuple[Cooperation, Customer]:
    """Change a cooperation record of a customer ``actor`` may see, then refresh the totals.

    Raises:
        NotFoundError: No such record, or its customer is not visible to ``actor``.
        ValidationError: A value breaks a rule (nothing is written).
    """
    record, customer = _visible_record(session, actor, cooperation_id)
    record = repo.update_cooperation(
        session, record=record, changes=changes, actor=actor.username, taxonomy=settings.taxonomy
    )
    refresh_customer(
        session,
        settings,
        customer,
        actor=actor.username,
        detail=f"合作记录 #{record.id}",
        records_changed=True,
    )
    return record, customer


def remove_cooperation(
    session: Session, settings: Settings, actor: User, cooperation_id: int
) -> tuple[Cooperation, Customer]:
    """Remove a cooperation record, then refresh the totals: 累计合作金额, 首次合作时间 and
    最近合作日期 follow the remaining records (cleared when none is left) unless set by hand.

    Returns:
        The record as it was and the customer with its new totals.

    Raises:
        NotFoundError: No such record, or its customer is not visible to ``actor``.
    """
    record, customer = _visible_record(session, actor, cooperation_id)
    repo.delete_cooperation(session, record=record, actor=actor.username)
    refresh_customer(
        session,
        settings,
        customer,
        actor=actor.username,
        detail=f"删除合作记录 #{cooperation_id}",
        records_changed=True,
    )
    return record, customer
