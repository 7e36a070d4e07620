"""Contacts of a customer: add, change, remove (each audited with before/after)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from config.taxonomy import Taxonomy
from models.contact import CONTACT_FIELDS, Contact, ContactCreate, validate_contact_values
from models.customer import Customer
from models.db import utcnow
from models.errors import NotFoundError
from models.repo.audit import add_audit_event
from models.repo.base import atomic, snapshot
from models.repo.options import held_values, options_in_effect
from models.repo.search_grams import refresh_search_grams


def _customer(session: Session, code: str) -> Customer:
    customer = session.exec(select(Customer).where(Customer.code == code.strip().upper())).first()
    if customer is None:
        raise NotFoundError(f"客户 {code} 不存在", code_value=code)
    return customer


def _only_primary(session: Session, contact: Contact, actor: str) -> None:
    """Make ``contact`` the customer's only primary contact (others lose the flag, audited)."""
    others = session.exec(
        select(Contact).where(
            Contact.customer_id == contact.customer_id,
            col(Contact.is_primary).is_(True),
            Contact.id != contact.id,
        )
    ).all()
    for other in others:
        other.is_primary = False
        other.updated_by, other.updated_at = actor, utcnow()
        session.add(other)
        add_audit_event(
            session,
            actor=actor,
            action="contact.update",
            entity_type="contact",
            entity_id=other.id or "",
            before={"is_primary": True},
            after={"is_primary": False},
            detail=f"主要联系人改为 {contact.name}",
        )


def add_contact(
    session: Session,
    *,
    customer_code: str,
    data: ContactCreate | Mapping[str, Any],
    actor: str,
    taxonomy: Taxonomy | None = None,
) -> Contact:
    """Add a contact person to a customer; a new primary contact replaces the old one.

    Raises:
        NotFoundError: No customer with this code.
        ValidationError: Missing name, invalid phone, e-mail, WeChat or option.
    """
    if not isinstance(data, ContactCreate):
        taxonomy = options_in_effect(session, taxonomy)
        data = ContactCreate.model_validate(dict(data), context={"taxonomy": taxonomy})
    customer = _customer(session, customer_code)
    values = data.model_dump()
    with atomic(session):
        contact = Contact(
            customer_id=customer.id,  # type: ignore[arg-type]
            created_by=actor,
            updated_by=actor,
            **values,
        )
        session.add(contact)
        session.flush()
        refresh_search_grams(session, [contact.customer_id])
        if contact.is_primary:
            _only_primary(session, contact, actor)
        add_audit_event(
            session,
            actor=actor,
            action="contact.create",
            entity_type="contact",
            entity_id=contact.id or "",
            after={"customer": customer.code, **snapshot(contact, CONTACT_FIELDS)},
        )
    return contact


def get_contact(session: Session, *, contact_id: int) -> Contact | None:
    """The contact with this id, or None."""
    return session.get(Contact, contact_id)


def update_contact(
    session: Session,
    *,
    contact: Contact,
    changes: Mapping[str, Any],
    actor: str,
    taxonomy: Taxonomy | None = None,
) -> Contact:
    """Change some fields of a contact (``None`` clears a field; the name cannot be cleared).

    Raises:
        ValidationError: A changed value breaks a rule (nothing is written).
    """
    taxonomy = options_in_effect(session, taxonomy, keep=held_values(contact))
    values = validate_contact_values(changes, taxonomy=taxonomy, partial=True)
    if "phones" in values and values["phones"] is None:
        values["phones"] = []
    for flag in ("is_primary", "is_decision_maker"):
        if flag in values and values[flag] is None:
            values[flag] = False
    changed = [n for n, v in values.items() if getattr(contact, n) != v]
    if not changed:
        return contact
    before = snapshot(contact, changed)
    with atomic(session):
        for name in changed:
            setattr(contact, name, values[name])
        contact.updated_by, contact.updated_at = actor, utcnow()
        session.add(contact)
        session.flush()
        if "name" in changed:
            refresh_search_grams(session, [contact.customer_id])
        if "is_primary" in changed and contact.is_primary:
            _only_primary(session, contact, actor)
        add_audit_event(
            session,
            actor=actor,
            action="contact.update",
            entity_type="contact",
            entity_id=contact.id or "",
            before=before,
            after=snapshot(contact, changed),
        )
    return contact


def delete_contact(session: Session, *, contact: Contact, actor: str) -> None:
    """Remove a contact; the audit event keeps every field it had."""
    customer = session.get(Customer, contact.customer_id)
    before = {"customer": customer.code if customer else None, **snapshot(contact, CONTACT_FIELDS)}
    with atomic(session):
        session.execute(sa.delete(Contact).where(col(Contact.id) == contact.id))
        refresh_search_grams(session, [contact.customer_id])
        add_audit_event(
            session,
            actor=actor,
            action="contact.delete",
            entity_type="contact",
            entity_id=contact.id or "",
            before=before,
        )
    session.expunge(contact)


def list_contacts(session: Session, *, customer_id: int) -> list[Contact]:
    """A customer's contacts, primary first."""
    query = (
        select(Contact)
        .where(Contact.customer_id == customer_id)
        .order_by(col(Contact.is_primary).desc(), col(Contact.id))
    )
    return list(session.exec(query).all())
