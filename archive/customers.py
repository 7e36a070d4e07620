"""The customer file service (issue 15): create and edit with permissions and concurrency.

Plain functions taking ``session``, ``settings`` and ``actor`` (the signed-in :class:`User`);
the caller commits. Rules:

- Sales users (销售专员) see and edit only customers they own; another owner's customer is
  reported as not found (:class:`NotFoundError`), and they cannot give a customer to someone
  else. A customer a sales user creates is theirs.
- An edit names the ``version`` it started from; if someone saved in between, the edit is
  refused with a Chinese :class:`ConflictError` and nothing is written.
- The same USCC or ID number is refused (by the repository); a same or very similar name
  (normalized: 有限公司/（）/spaces) is returned as a warning from :func:`similar_customers`.
- Every change is an audit event with before/after (written by ``models.repo``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from archive.permissions import Action, can_view_customer, require, sees_everything
from config.settings import Settings
from models import repo
from models.customer import Customer, normalize_customer_name
from models.repo import ConflictError, NotFoundError
from models.user import User

_COMPANY_SUFFIX = re.compile(r"(股份有限公司|有限责任公司|有限公司|集团|公司)$")


def similarity_key(name: str | None) -> str:
    """A name for duplicate flagging: normalized, brackets and company suffixes removed."""
    key = normalize_customer_name(name)
    key = key.replace("(", "").replace(")", "")
    return _COMPANY_SUFFIX.sub("", key)


def similar_customers(
    session: Session, *, name: str, exclude_code: str | None = None
) -> list[Customer]:
    """Customers whose name is the same as ``name`` after :func:`similarity_key`."""
    key = similarity_key(name)
    if not key:
        return []
    prefix = normalize_customer_name(name)[:2]
    query = select(Customer).where(col(Customer.name_key).startswith(prefix))
    found = [c for c in session.exec(query).all() if similarity_key(c.name) == key]
    return [c for c in found if c.code != exclude_code]


def get_visible(session: Session, actor: User, code: str) -> Customer:
    """The customer ``code`` if ``actor`` may see it.

    Raises:
        NotFoundError: No such customer, or one ``actor`` may not see (same message).
    """
    customer = repo.get_customer(session, code=code)
    if customer is None or not can_view_customer(actor, customer):
        raise NotFoundError(f"客户 {code} 不存在", code_value=code)
    return customer


def create_customer(
    session: Session, settings: Settings, actor: User, values: Mapping[str, Any]
) -> tuple[Customer, list[Customer]]:
    """Create a customer; returns it and the existing customers with a similar name.

    Raises:
        PermissionDeniedError: A disabled user.
        ValidationError, ConflictError: As ``models.repo.create_customer``.
    """
    del settings  # reserved: option lists and tier thresholds come from it in later steps
    require(actor, Action.VIEW)
    data = dict(values)
    if not sees_everything(actor):
        data["owner_id"] = actor.id
    similar = similar_customers(session, name=str(data.get("name") or ""))
    customer = repo.create_customer(session, data=data, actor=actor.username)
    return customer, similar


def edit_customer(
    session: Session,
    settings: Settings,
    actor: User,
    code: str,
    changes: Mapping[str, Any],
    *,
    version: int,
) -> Customer:
    """Change fields of a customer that ``actor`` may see, from the ``version`` they saw.

    Raises:
        NotFoundError: No such customer or not visible to ``actor``.
        ConflictError: Someone saved the customer after ``version`` was read.
        PermissionDeniedError: A sales user tried to change the owner.
        ValidationError: The changed record breaks a rule.
    """
    del settings
    customer = get_visible(session, actor, code)
    if customer.version != version:
        raise _stale(customer)
    given = dict(changes)
    if "owner_id" in given and given["owner_id"] != customer.owner_id:
        if not sees_everything(actor):
            require(actor, Action.MANAGE_USERS)
    before = customer.updated_at
    customer = repo.update_customer(session, code=code, changes=given, actor=actor.username)
    if customer.updated_at == before:
        return customer
    # Compare-and-set: under concurrent saves only one transaction finds the old version.
    bumped = session.execute(
        sa.update(Customer)
        .where(col(Customer.id) == customer.id, col(Customer.version) == version)
        .values(version=version + 1)
    )
    if bumped.rowcount != 1:
        session.rollback()
        raise _stale(get_visible(session, actor, code))
    session.refresh(customer)
    return customer


def _stale(customer: Customer) -> ConflictError:
    return ConflictError(
        f"客户 {customer.code} 已被 {customer.updated_by} 修改（当前版本 {customer.version}），"
        "请刷新后重新编辑",
        field="version",
        existing=str(customer.version),
    )
