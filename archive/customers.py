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
- Cooperation totals, value tier and level follow from the records (:mod:`archive.tiers`);
  a value typed by a person is kept (``manual_fields``) until it is cleared, and a level that
  differs from the tier's needs a reason (``level_reason``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from archive.permissions import Action, can_view_customer, require, sees_everything
from archive.tiers import derived_from_records, derived_values, tier_level
from config.settings import Settings
from config.taxonomy import Taxonomy
from models import repo
from models.cooperation import DERIVED_FIELDS
from models.customer import Customer, CustomerCreate, normalize_customer_name
from models.repo import ConflictError, NotFoundError, ValidationError
from models.repo.base import atomic
from models.repo.options import held_values
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
    session: Session,
    settings: Settings,
    actor: User,
    values: Mapping[str, Any],
    *,
    look_for_similar: bool = True,
) -> tuple[Customer, list[Customer]]:
    """Create a customer; returns it and the existing customers with a similar name.

    ``look_for_similar=False`` skips the similar-name search (a bulk import: that search reads
    every customer sharing the name's first two characters, so row by row it is quadratic).

    Cooperation totals given here are set by hand (``manual_fields``): records added later do
    not overwrite them until they are cleared.

    Raises:
        PermissionDeniedError: A disabled user.
        ValidationError, ConflictError: As ``models.repo.create_customer``.
    """
    taxonomy = repo.options_in_effect(session, settings.taxonomy)  # as admins edited them
    data = prepare_customer(settings, actor, values, taxonomy=taxonomy)
    similar = similar_customers(session, name=data.name) if look_for_similar else []
    customer = repo.create_customer(session, data=data, actor=actor.username)
    _mark_manual(session, actor, [customer])
    return customer, similar


def prepare_customer(
    settings: Settings,
    actor: User,
    values: Mapping[str, Any],
    *,
    taxonomy: Taxonomy | None = None,
) -> CustomerCreate:
    """A new customer's values checked with the editor's rules, as ``actor`` would create it (a
    sales user's customer is theirs); nothing is read or written. ``taxonomy``: the option
    lists in effect (``repo.options_in_effect``); default the file's.

    Raises:
        PermissionDeniedError: A disabled user.
        ValidationError: A value is missing or invalid.
    """
    require(actor, Action.VIEW)
    data = dict(values)
    if not sees_everything(actor):
        data["owner_id"] = actor.id
    context = {"taxonomy": taxonomy or settings.taxonomy}
    return CustomerCreate.model_validate(data, context=context)


def create_customers(session: Session, actor: User, prepared: list[CustomerCreate]) -> list[str]:
    """Create many customers of :func:`prepare_customer` at once (a bulk import, no similar-name
    search), as :func:`create_customer` would one by one; returns their codes.

    Raises:
        ValidationError, ConflictError: As ``models.repo.create_customers`` (nothing written).
    """
    codes = repo.create_customers(session, rows=prepared, actor=actor.username)
    given = [code for code, p in zip(codes, prepared, strict=True)
             if any(getattr(p, f) is not None for f in DERIVED_FIELDS)]  # fmt: skip
    if given:
        _mark_manual(session, actor, repo.customers_by_identifiers(session, codes=given))
    return codes


def _mark_manual(session: Session, actor: User, created: list[Customer]) -> None:
    """Cooperation totals given at creation are set by hand (``manual_fields``)."""
    for customer in created:
        manual = [f for f in DERIVED_FIELDS if getattr(customer, f) is not None]
        if manual:
            repo.set_customer_derived(
                session,
                customer=customer,
                values={"manual_fields": manual},
                actor=actor.username,
                bump_version=False,
            )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _level_change(
    settings: Settings, customer: Customer, given: dict[str, Any], reason: str | None
) -> tuple[set[str], set[str], str | None]:
    """How a level edit changes the manual fields: (add, remove, reason); checks the reason.

    A level other than the one the tier gives is an override and needs a reason; the tier's
    level, or a blank level, follows the tier again; without a tier a level is a plain edit.
    """
    tier_lvl = tier_level(settings, customer.value_tier)
    if "level" not in given:
        if reason and "level" in (customer.manual_fields or ()):
            return set(), set(), reason
        return set(), set(), customer.level_reason
    if _blank(given["level"]):
        if tier_lvl is not None:
            given.pop("level")
        return set(), {"level"}, None
    new = str(given["level"]).strip()
    manual = "level" in (customer.manual_fields or ())
    if new == customer.level:  # unchanged (a form sends every field): keep the override
        return set(), set(), (reason or customer.level_reason) if manual else None
    if tier_lvl is None or new == tier_lvl:
        return set(), {"level"}, None
    if not reason:
        raise ValidationError(
            f"客户等级：价值层级“{customer.value_tier}”对应{tier_lvl}，"
            "手工调整为其他等级须填写调整原因",
            field="level_reason",
            reason="required",
        )
    return {"level"}, set(), reason


def _apply_edit(
    session: Session, settings: Settings, actor: User, customer: Customer, given: dict[str, Any]
) -> Customer:
    """Write the edit and the derived fields that follow from it (no version bump here)."""
    reason = given.pop("level_reason", None)
    reason = None if _blank(reason) else str(reason).strip()
    add, remove, level_reason = _level_change(settings, customer, given, reason)
    released = {f for f in DERIVED_FIELDS if f in given and _blank(given[f])}
    for name in released:
        given.pop(name)
    old = {f: getattr(customer, f) for f in DERIVED_FIELDS}
    if given:
        customer = repo.update_customer(
            session,
            code=customer.code,
            changes=given,
            actor=actor.username,
            taxonomy=settings.taxonomy,
        )
    typed = {f for f in DERIVED_FIELDS if f in given and getattr(customer, f) != old[f]}
    manual = (set(customer.manual_fields or ()) | typed | add) - released - remove
    values = derived_values(
        session,
        settings,
        customer,
        manual=manual,
        level_reason=level_reason,
        released=frozenset(released),
    )
    repo.set_customer_derived(
        session, customer=customer, values=values, actor=actor.username, bump_version=False
    )
    return customer


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

    ``changes`` may hold ``level_reason``: required when the level is set to something other
    than what the value tier gives (an override, see :mod:`archive.tiers`). A blank cooperation
    total or level follows the records / tier again.

    Raises:
        NotFoundError: No such customer or not visible to ``actor``.
        ConflictError: Someone saved the customer after ``version`` was read.
        PermissionDeniedError: A sales user tried to change the owner.
        ValidationError: The changed record breaks a rule.
    """
    customer = get_visible(session, actor, code)
    if customer.version != version:
        raise _stale(customer)
    given = dict(changes)
    if "owner_id" in given and given["owner_id"] != customer.owner_id:
        if not sees_everything(actor):
            require(actor, Action.MANAGE_USERS)
    before = customer.updated_at
    with atomic(session):
        customer = _apply_edit(session, settings, actor, customer, given)
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


@dataclass
class EditPlan:
    """An edit checked by :func:`plan_edit`, written by :func:`edit_customers`: the customer as
    loaded, the fields that change (checked values) and how the level / totals set by hand
    move (as :func:`_apply_edit` decides them)."""

    customer: Customer
    changes: dict[str, Any]
    add: set[str] = field(default_factory=set)
    remove: set[str] = field(default_factory=set)
    level_reason: str | None = None
    released: frozenset[str] = frozenset()


def plan_edit(
    session: Session,
    settings: Settings,
    actor: User,
    customer: Customer,
    values: Mapping[str, Any],
    *,
    taxonomy: Taxonomy,
    retired: Collection[str] = (),
) -> EditPlan | None:
    """An edit of ``customer`` (loaded, visible to ``actor``) to ``values``, checked once with
    the editor's rules; None when no value differs (nothing to write). A bulk import plans its
    edits with this and writes them by the batch with :func:`edit_customers`.

    ``taxonomy``: the option lists in effect; ``retired``: the retired options (one the customer
    holds stays valid for it, as in the editor).

    Raises:
        PermissionDeniedError: A sales user changing the owner.
        ValidationError: The changed record breaks a rule.
    """
    given = dict(values)
    reason = given.pop("level_reason", None)
    held = held_values(customer) & set(retired) if retired else set()
    if held:
        taxonomy = repo.options_in_effect(session, settings.taxonomy, keep=held)
    merged = repo.edited_values(customer, given, taxonomy=taxonomy)
    changes = {k: merged[k] for k in given if k in merged and merged[k] != getattr(customer, k)}
    if not changes:
        return None
    if "owner_id" in changes and not sees_everything(actor):
        require(actor, Action.MANAGE_USERS)
    reason = None if _blank(reason) else str(reason).strip()
    add, remove, level_reason = _level_change(settings, customer, changes, reason)
    released = frozenset(f for f in DERIVED_FIELDS if f in changes and _blank(changes[f]))
    for name in released:
        changes.pop(name)
    return EditPlan(customer, changes, add, remove, level_reason, released)


def edit_customers(
    session: Session, settings: Settings, actor: User, plans: Sequence[EditPlan]
) -> list[ConflictError | None]:
    """Write many edits of :func:`plan_edit` at once, as :func:`edit_customer` would one by
    one from the versions loaded: the same values, derived fields (totals, tier, level),
    before/after audit events and version bump, with one query for every customer's records and
    one UPDATE per customer (``repo.update_customers``).

    Returns:
        Per plan, None (written) or the :class:`ConflictError` of a customer someone saved after
        it was loaded (nothing of that edit written).

    Raises:
        ValidationError, ConflictError: An unknown owner, a USCC or ID number another customer
            holds (nothing written; write the plans one by one to find which).
    """
    ids = [p.customer.id for p in plans]
    records = repo.cooperations_by_customer(session, customer_ids=ids)  # type: ignore[arg-type]
    edits = []
    for plan in plans:
        customer = plan.customer
        typed = {f for f in DERIVED_FIELDS if f in plan.changes}
        manual = (set(customer.manual_fields or ()) | typed | plan.add) - plan.released
        derived = derived_from_records(
            settings,
            records.get(customer.id, []),  # type: ignore[arg-type]
            manual=manual - plan.remove,
            level_reason=plan.level_reason,
            released=plan.released,
        )
        edits.append((customer, plan.changes, derived))
    stale = set(repo.update_customers(session, edits=edits, actor=actor.username))
    out: list[ConflictError | None] = []
    for plan, customer_id in zip(plans, ids, strict=True):  # written customers are expired
        if customer_id in stale:
            session.refresh(plan.customer)
            out.append(_stale(plan.customer))
        else:
            out.append(None)
    return out


def _stale(customer: Customer) -> ConflictError:
    return ConflictError(
        f"客户 {customer.code} 已被 {customer.updated_by} 修改（当前版本 {customer.version}），"
        "请刷新后重新编辑",
        field="version",
        existing=str(customer.version),
    )
