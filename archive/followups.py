"""The follow-up log (跟进记录) of a customer: add and list, within the viewer's customers.

Adding a follow-up with a status makes it the customer's 跟进状态 when it is the newest entry
(audited as a derived change, the customer's version moves on).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from archive.customers import get_visible
from config.settings import Settings
from models import repo
from models.customer import Customer
from models.followup import FollowUp
from models.repo.base import lock_row
from models.user import User


def list_follow_ups(
    session: Session, actor: User, code: str, *, limit: int = 100, offset: int = 0
) -> list[FollowUp]:
    """The follow-ups of customer ``code``, newest first.

    Raises:
        NotFoundError: No such customer or not visible to ``actor``.
    """
    customer = get_visible(session, actor, code)
    return repo.list_follow_ups(
        session,
        customer_id=customer.id,  # type: ignore[arg-type]
        limit=limit,
        offset=offset,
    )


def add_follow_up(
    session: Session, settings: Settings, actor: User, code: str, values: Mapping[str, Any]
) -> tuple[FollowUp, Customer]:
    """Record a follow-up of customer ``code`` (``followed_by`` defaults to ``actor``).

    Returns:
        The entry and the customer (its 跟进状态 updated when the entry is the newest).

    Raises:
        NotFoundError: No such customer or not visible to ``actor``.
        ValidationError: A value breaks a rule (nothing is written).
    """
    customer = get_visible(session, actor, code)
    customer = lock_row(session, Customer, customer.id)  # type: ignore[arg-type]
    entry = repo.add_follow_up(
        session, customer=customer, data=values, actor=actor.username, taxonomy=settings.taxonomy
    )
    newest = repo.list_follow_ups(session, customer_id=customer.id, limit=1)  # type: ignore[arg-type]
    if entry.status and newest and newest[0].id == entry.id:
        repo.set_customer_derived(
            session,
            customer=customer,
            values={"follow_up_status": entry.status},
            actor=actor.username,
            detail=f"跟进记录 #{entry.id}",
        )
    return entry, customer
