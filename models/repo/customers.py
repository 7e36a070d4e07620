"""Customers and their contacts: codes handed out per month, unique USCC and ID numbers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

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
    validate_customer_values,
)
from models.db import utcnow
from models.errors import ConflictError, NotFoundError, ValidationError
from models.repo.audit import add_audit_event
from models.repo.base import atomic, dialect, snapshot
from models.repo.options import held_values, options_in_effect
from models.user import User
from models.validation import field_label

CUSTOMER_CODE_PREFIX = "CUS"

CUSTOMER_AUDIT_FIELDS = customer_audit_fields()


def _bump_counter(session: Session, period: str) -> int:
    table = CustomerCodeCounter.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    stmt = (
        insert(table)
        .values(period=period, last_seq=1)
        .on_conflict_do_update(
            index_elements=[table.c.period], set_={"last_seq": table.c.last_seq + 1}
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
    period = (now or utcnow()).astimezone(CHINA_TZ).strftime("%Y%m")
    while True:
        code = f"{CUSTOMER_CODE_PREFIX}{period}{_bump_counter(session, period):03d}"
        taken = session.exec(select(Customer.id).where(Customer.code == code)).first()
        if taken is None:
            return code


def _check_owner(session: Session, owner_id: int | None) -> None:
    if owner_id is not None and session.get(User, owner_id) is None:
        raise ValidationError("负责人不存在", field="owner_id", reason="unknown_user")


def _check_unique_ids(session: Session, values: Mapping[str, Any], exclude_id: int | None) -> None:
    for name in ("uscc", "id_number"):
        value = values.get(name)
        if value is None:
            continue
        query = select(Customer).where(getattr(Customer, name) == value)
        if exclude_id is not None:
            query = query.where(Customer.id != exclude_id)
        other = session.exec(query).first()
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
    _check_unique_ids(session, values, exclude_id=None)
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
    _check_unique_ids(session, new_values, exclude_id=customer.id)
    before = snapshot(customer, changed)
    try:
        with atomic(session):
            for name in changed:
                setattr(customer, name, new_values[name])
            customer.updated_by = actor
            customer.updated_at = utcnow()
            session.add(customer)
            session.flush()
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
