"""Customers and their contacts: codes handed out per month, unique USCC and ID numbers."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from config.clock import CHINA_TZ
from config.taxonomy import Taxonomy
from models.customer import (
    Customer,
    CustomerCodeCounter,
    CustomerCreate,
    CustomerStatus,
    CustomerUpdate,
    customer_audit_fields,
    name_keys,
    validate_customer_values,
)
from models.db import utcnow
from models.errors import ConflictError, NotFoundError, ValidationError
from models.repo.audit import add_audit_event, add_audit_events
from models.repo.base import atomic, by_index, dialect, snapshot
from models.repo.options import held_values, options_in_effect
from models.repo.search_grams import refresh_search_grams
from models.user import User
from models.validation import field_label

CUSTOMER_CODE_PREFIX = "CUS"

CUSTOMER_AUDIT_FIELDS = customer_audit_fields()
#: The input fields whose values the search grams hold (the name through its name key).
SEARCHED_FIELDS = frozenset({"name", "contact_person"})


def _bump_counter(session: Session, period: str, by: int = 1) -> int:
    table = CustomerCodeCounter.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    stmt = (
        insert(table)
        .values(period=period, last_seq=by)
        .on_conflict_do_update(
            index_elements=[table.c.period], set_={"last_seq": table.c.last_seq + by}
        )
        .returning(table.c.last_seq)
    )
    return int(session.execute(stmt).scalar_one())


def next_customer_code(session: Session, *, now: datetime | None = None) -> str:
    """Hand out the next code ``CUS{YYYYMM}{seq:03d}`` for the month of ``now`` (China time).

    A counter row per month is incremented atomically (an upsert): on PostgreSQL concurrent
    transactions queue on that row, on SQLite on the write lock, so two customers never get
    the same code; a rolled-back transaction gives its number back. Codes already taken (for
    example imported ones) are skipped. After 999 customers in a month the sequence simply
    grows to four digits.
    """
    return next_customer_codes(session, 1, now=now)[0]


def next_customer_codes(session: Session, count: int, *, now: datetime | None = None) -> list[str]:
    """``count`` codes as :func:`next_customer_code` hands them out, reserved in one counter
    step (a bulk import); codes already taken are skipped."""
    period = (now or utcnow()).astimezone(CHINA_TZ).strftime("%Y%m")
    codes: list[str] = []
    while len(codes) < count:
        need = count - len(codes)
        last = _bump_counter(session, period, by=need)
        batch = [f"{CUSTOMER_CODE_PREFIX}{period}{n:03d}" for n in range(last - need + 1, last + 1)]
        with by_index(session):
            taken = set(session.exec(select(Customer.code).where(col(Customer.code).in_(batch))))
        codes += [c for c in batch if c not in taken]
    return codes


def _check_owner(session: Session, owner_id: int | None) -> None:
    if owner_id is not None and session.get(User, owner_id) is None:
        raise ValidationError("负责人不存在", field="owner_id", reason="unknown_user")


def _check_unique_ids(
    session: Session, rows: Sequence[Mapping[str, Any]], exclude_id: int | None
) -> None:
    """Refuse a USCC or ID number of ``rows`` that another customer holds (one query each)."""
    with by_index(session):
        for name in ("uscc", "id_number"):
            values = {r[name] for r in rows if r.get(name) is not None}
            if not values:
                continue
            query = select(Customer).where(col(getattr(Customer, name)).in_(values))
            if exclude_id is not None:
                query = query.where(Customer.id != exclude_id)
            other = session.exec(query.order_by(col(Customer.id))).first()
            if other is not None:
                raise ConflictError(
                    f"{field_label(name)}已被客户 {other.code}（{other.name}）使用",
                    field=name,
                    existing=other.code,
                )


def _conflict_from_integrity(e: IntegrityError) -> ConflictError:
    text = str(e.orig)
    field = "id_number" if "id_number" in text else "uscc" if "uscc" in text else "code"
    return ConflictError(f"{field_label(field)}与已有客户重复", field=field)


def _insert_customer(
    session: Session,
    *,
    values: Mapping[str, Any],
    actor: str,
    now: datetime | None,
    detail: str | None,
) -> Customer:
    _check_owner(session, values.get("owner_id"))
    _check_unique_ids(session, [values], exclude_id=None)
    try:
        with atomic(session):
            stamp = now or utcnow()
            customer = Customer(
                **values,
                code=next_customer_code(session, now=stamp),
                created_by=actor,
                updated_by=actor,
                created_at=stamp,
                updated_at=stamp,
            )
            session.add(customer)
            session.flush()
            refresh_search_grams(session, [customer.id])  # type: ignore[list-item]
            add_audit_event(
                session,
                actor=actor,
                action="customer.create",
                entity_type="customer",
                entity_id=customer.code,
                after=snapshot(customer, CUSTOMER_AUDIT_FIELDS),
                detail=detail,
            )
    except IntegrityError as e:
        raise _conflict_from_integrity(e) from e
    return customer


def create_customer(
    session: Session,
    *,
    data: CustomerCreate | Mapping[str, Any],
    actor: str,
    taxonomy: Taxonomy | None = None,
    now: datetime | None = None,
) -> Customer:
    """Create a customer with a generated code (see ``models.customer`` for required fields).

    Args:
        session: Open session; the caller commits.
        data: A validated ``CustomerCreate`` or raw values (validated here).
        actor: Username recorded as creator and in the audit trail.
        taxonomy: For raw ``data``: option lists and types (default taxonomy when None).
        now: Creation time (decides the code's month); defaults to the current time.

    Raises:
        ValidationError: A value is missing or invalid (nothing is written).
        ConflictError: The USCC or ID number belongs to another customer.
    """
    if not isinstance(data, CustomerCreate):
        taxonomy = options_in_effect(session, taxonomy)
        data = CustomerCreate.model_validate(dict(data), context={"taxonomy": taxonomy})
    return _insert_customer(session, values=data.model_dump(), actor=actor, now=now, detail=None)


def create_customers(
    session: Session, *, rows: Sequence[CustomerCreate], actor: str, now: datetime | None = None
) -> list[str]:
    """Create many validated customers at once (a bulk import), as :func:`create_customer`
    would one by one: the same checks, codes, stored values and ``customer.create`` audit
    events, but one query per check, one counter step and two multi-row INSERTs (no ORM
    objects: a bulk import spends most of its time building them otherwise).

    Returns:
        The new customers' codes, in the order of ``rows``.

    Raises:
        ValidationError: An owner that does not exist (nothing is written).
        ConflictError: A USCC or ID number already belongs to a customer (nothing is written).
    """
    values = [r.model_dump() for r in rows]
    owners = {v["owner_id"] for v in values if v.get("owner_id") is not None}
    if owners and owners - set(session.exec(select(User.id).where(col(User.id).in_(owners)))):
        raise ValidationError("负责人不存在", field="owner_id", reason="unknown_user")
    _check_unique_ids(session, values, exclude_id=None)
    stamp = now or utcnow()
    defaults = {name: info.get_default(call_default_factory=True)
                for name, info in Customer.model_fields.items() if name != "id"}  # fmt: skip
    try:
        with atomic(session):
            codes = next_customer_codes(session, len(values), now=stamp)
            records = [defaults | v | name_keys(v["name"], v.get("legal_representative"))
                       | {"code": code, "created_by": actor, "updated_by": actor,
                          "created_at": stamp, "updated_at": stamp}
                       for v, code in zip(values, codes, strict=True)]  # fmt: skip
            session.execute(sa.insert(Customer.__table__), records)  # type: ignore[attr-defined]
            query = select(Customer.id).where(col(Customer.code).in_(codes))
            with by_index(session):
                new_ids = list(session.exec(query))
            refresh_search_grams(session, new_ids)  # type: ignore[arg-type]
            add_audit_events(session, [
                {"actor": actor, "action": "customer.create", "entity_type": "customer",
                 "entity_id": r["code"], "after": snapshot(SimpleNamespace(**r),
                                                           CUSTOMER_AUDIT_FIELDS)}
                for r in records
            ])  # fmt: skip
    except IntegrityError as e:
        raise _conflict_from_integrity(e) from e
    return codes


def customers_by_identifiers(
    session: Session,
    *,
    codes: Collection[str] = (),
    usccs: Collection[str] = (),
    id_numbers: Collection[str] = (),
) -> list[Customer]:
    """Every customer holding one of the codes, USCCs or ID numbers (values as stored: upper
    case, no spaces), in id order: one query per kind of identifier given, each read through
    that column's unique index (an import matching a batch of rows)."""
    found: dict[int, Customer] = {}
    with by_index(session):
        for column, values in ((Customer.code, codes), (Customer.uscc, usccs),
                               (Customer.id_number, id_numbers)):  # fmt: skip
            if values:
                for customer in session.exec(select(Customer).where(col(column).in_(set(values)))):
                    found[customer.id] = customer  # type: ignore[index]
    return [found[i] for i in sorted(found)]


def create_customer_from_document(
    session: Session,
    *,
    data: Mapping[str, Any],
    actor: str,
    taxonomy: Taxonomy | None = None,
) -> Customer:
    """Create a prospect (潜在客户) from values extracted from a document.

    Only ``name`` and ``customer_type`` are required; other values that fail validation are
    dropped and listed in the audit event's detail (tier 3 in ``models.customer``).

    Raises:
        ValidationError: Name or customer type missing or invalid.
        ConflictError: The USCC or ID number belongs to another customer.
    """
    taxonomy = options_in_effect(session, taxonomy)
    values, dropped = validate_customer_values(data, taxonomy=taxonomy, from_document=True)
    known = set(CustomerCreate.model_fields)
    values = {k: v for k, v in values.items() if k in known}
    detail = None
    if dropped:
        detail = "dropped invalid values: " + ", ".join(
            f"{d['field']} ({d['reason']})" for d in dropped
        )
    return _insert_customer(session, values=values, actor=actor, now=None, detail=detail)


def get_customer(session: Session, *, code: str) -> Customer | None:
    """The customer with this code (e.g. ``CUS202405001``), or None."""
    return session.exec(select(Customer).where(Customer.code == code.strip().upper())).first()


def find_customers(
    session: Session,
    *,
    uscc: str | None = None,
    id_number: str | None = None,
    name: str | None = None,
    limit: int = 50,
) -> list[Customer]:
    """Customers matching any of the given identifiers; ``name`` matches a substring."""
    conditions = []
    if uscc:
        conditions.append(Customer.uscc == uscc.strip().upper())
    if id_number:
        conditions.append(Customer.id_number == id_number.strip().upper())
    if name:
        conditions.append(col(Customer.name).contains(name.strip()))
    if not conditions:
        return []
    query = select(Customer).where(or_(*conditions)).order_by(col(Customer.id)).limit(limit)
    return list(session.exec(query).all())


def list_customers(
    session: Session,
    *,
    owner_id: int | None = None,
    status: str | None = None,
    customer_type: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Customer]:
    """Customers ordered by code, optionally filtered (sales staff: pass their ``owner_id``)."""
    query = select(Customer)
    if owner_id is not None:
        query = query.where(Customer.owner_id == owner_id)
    if status is not None:
        query = query.where(Customer.status == status)
    if customer_type is not None:
        query = query.where(Customer.customer_type == customer_type)
    query = query.order_by(col(Customer.code)).offset(offset).limit(limit)
    return list(session.exec(query).all())


def _require_customer(session: Session, code: str) -> Customer:
    customer = get_customer(session, code=code)
    if customer is None:
        raise NotFoundError(f"客户 {code} 不存在", code_value=code)
    return customer


def _updated_values(
    customer: Customer,
    given: Mapping[str, Any],
    *,
    taxonomy: Taxonomy | None,
    from_document: bool,
) -> dict[str, Any]:
    """The customer's values after ``given``: a prospect changed from a document stays lenient."""
    current = {name: getattr(customer, name) for name in CustomerCreate.model_fields}
    if from_document and customer.status == CustomerStatus.PROSPECT.value:
        checked, _dropped = validate_customer_values(
            {**current, **given}, taxonomy=taxonomy, from_document=True
        )
        return {**current, **{k: checked.get(k) for k in given if k in checked}}
    merged = CustomerCreate.model_validate({**current, **given}, context={"taxonomy": taxonomy})
    return merged.model_dump()


def update_customer(
    session: Session,
    *,
    code: str,
    changes: CustomerUpdate | Mapping[str, Any],
    actor: str,
    taxonomy: Taxonomy | None = None,
    from_document: bool = False,
) -> Customer:
    """Change some fields of a customer; the whole record is validated again afterwards.

    ``from_document=True`` (values read from a document, e.g. a license filling empty fields)
    keeps a prospect (潜在客户) on the lenient tier it was created on: the given values are
    validated one by one and invalid ones dropped, instead of requiring the whole enterprise
    record at once. Customers past the prospect stage are always validated in full.

    Raises:
        NotFoundError: No customer with this code.
        ValidationError: The changed record breaks a rule (nothing is written).
        ConflictError: The new USCC or ID number belongs to another customer.
    """
    if not isinstance(changes, CustomerUpdate):
        changes = CustomerUpdate.model_validate(dict(changes))
    customer = _require_customer(session, code)
    new_values = _updated_values(
        customer,
        changes.model_dump(exclude_unset=True),
        taxonomy=options_in_effect(session, taxonomy, keep=held_values(customer)),
        from_document=from_document,
    )
    changed = [n for n, v in new_values.items() if getattr(customer, n) != v]
    if not changed:
        return customer
    _check_owner(session, new_values.get("owner_id"))
    _check_unique_ids(session, [new_values], exclude_id=customer.id)
    before = snapshot(customer, changed)
    try:
        with atomic(session):
            for name in changed:
                setattr(customer, name, new_values[name])
            customer.updated_by = actor
            customer.updated_at = utcnow()
            session.add(customer)
            session.flush()
            if SEARCHED_FIELDS & set(changed):
                refresh_search_grams(session, [customer.id])  # type: ignore[list-item]
            add_audit_event(
                session,
                actor=actor,
                action="customer.update",
                entity_type="customer",
                entity_id=customer.code,
                before=before,
                after=snapshot(customer, changed),
            )
    except IntegrityError as e:
        session.refresh(customer)
        raise _conflict_from_integrity(e) from e
    return customer
