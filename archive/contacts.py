"""Contacts (联系人) of a customer: add, edit, remove, list, within the viewer's customers.

Plain functions taking ``session``, ``settings`` and ``actor`` (the signed-in :class:`User`);
the caller commits. A contact of a customer ``actor`` may not see is reported as not found.
Validation (``models.contact``) names the field and the rule in Chinese; every change is
audited with before/after by ``models.repo``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from archive.customers import get_visible
from config.settings import Settings
from models import repo
from models.contact import Contact
from models.customer import Customer
from models.repo import NotFoundError
from models.user import User


def list_contacts(session: Session, actor: User, code: str) -> list[Contact]:
    """The contacts of customer ``code`` (primary first).

    Raises:
        NotFoundError: No such customer or not visible to ``actor``.
    """
    customer = get_visible(session, actor, code)
    return repo.list_contacts(session, customer_id=customer.id)  # type: ignore[arg-type]


def get_contact(session: Session, actor: User, contact_id: int) -> tuple[Contact, Customer]:
    """A contact and its customer, if ``actor`` may see the customer.

    Raises:
        NotFoundError: ``联系人 #N 不存在`` (also for another owner's contact).
    """
    contact = repo.get_contact(session, contact_id=contact_id)
    customer = session.get(Customer, contact.customer_id) if contact is not None else None
    missing = NotFoundError(f"联系人 #{contact_id} 不存在", contact_id=contact_id)
    if contact is None or customer is None:
        raise missing
    try:
        get_visible(session, actor, customer.code)
    except NotFoundError as e:
        raise missing from e
    return contact, customer


def add_contact(
    session: Session, settings: Settings, actor: User, code: str, values: Mapping[str, Any]
) -> Contact:
    """Add a contact to customer ``code``; a new primary contact replaces the old one.

    Raises:
        NotFoundError: No such customer or not visible to ``actor``.
        ValidationError: A value breaks a rule (nothing is written).
    """
    customer = get_visible(session, actor, code)
    return repo.add_contact(
        session,
        customer_code=customer.code,
        data=values,
        actor=actor.username,
        taxonomy=settings.taxonomy,
    )


def edit_contact(
    session: Session,
    settings: Settings,
    actor: User,
    contact_id: int,
    changes: Mapping[str, Any],
) -> Contact:
    """Change fields of a contact (``None`` or blank clears a field, not the name).

    Raises:
        NotFoundError: No such contact, or its customer is not visible to ``actor``.
        ValidationError: A value breaks a rule (nothing is written).
    """
    contact, _customer = get_contact(session, actor, contact_id)
    return repo.update_contact(
        session, contact=contact, changes=changes, actor=actor.username, taxonomy=settings.taxonomy
    )


def remove_contact(session: Session, actor: User, contact_id: int) -> Contact:
    """Remove a contact; returns it as it was (the audit event keeps every field).

    Raises:
        NotFoundError: No such contact, or its customer is not visible to ``actor``.
    """
    contact, _customer = get_contact(session, actor, contact_id)
    repo.delete_contact(session, contact=contact, actor=actor.username)
    return contact
