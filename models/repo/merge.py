"""Merging a duplicate customer into the kept one: its rows move, it is deleted (audited)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models.contact import Contact
from models.cooperation import Cooperation
from models.customer import Customer
from models.document import Document
from models.followup import FollowUp
from models.repo.audit import add_audit_event
from models.repo.base import atomic, snapshot
from models.repo.customers import CUSTOMER_AUDIT_FIELDS
from models.repo.documents import update_document
from models.repo.search_grams import refresh_search_grams
from models.tag import MAX_TAGS_PER_CUSTOMER, CustomerTag, Tag


@dataclass
class MovedRows:
    """What moved from the duplicate to the kept customer."""

    documents: list[int] = field(default_factory=list)
    contacts: list[int] = field(default_factory=list)
    follow_ups: list[int] = field(default_factory=list)
    cooperations: list[int] = field(default_factory=list)
    tags_added: list[str] = field(default_factory=list)
    tags_dropped: list[str] = field(default_factory=list)


def _ids(session: Session, model: type, customer_id: int) -> list[int]:
    rows = session.exec(
        select(model.id).where(model.customer_id == customer_id).order_by(model.id)  # type: ignore[attr-defined]
    ).all()
    return [int(i) for i in rows]


def _move_rows(session: Session, kept: Customer, duplicate: Customer, moved: MovedRows) -> None:
    for model, ids in (
        (Contact, moved.contacts),
        (FollowUp, moved.follow_ups),
        (Cooperation, moved.cooperations),
    ):
        ids.extend(_ids(session, model, duplicate.id))  # type: ignore[arg-type]
        session.execute(
            sa.update(model).where(model.customer_id == duplicate.id).values(customer_id=kept.id)  # type: ignore[attr-defined]
        )
    has_primary = session.exec(
        select(Contact.id).where(
            Contact.customer_id == kept.id,
            col(Contact.is_primary).is_(True),
            col(Contact.id).not_in(moved.contacts or [0]),
        )
    ).first()
    if has_primary is not None and moved.contacts:
        session.execute(
            sa.update(Contact).where(col(Contact.id).in_(moved.contacts)).values(is_primary=False)
        )


def _move_tags(
    session: Session, kept: Customer, duplicate: Customer, moved: MovedRows, actor: str
) -> None:
    def names(customer_id: int | None) -> list[tuple[int, str]]:
        rows = session.exec(
            select(Tag.id, Tag.name)
            .join(CustomerTag, col(CustomerTag.tag_id) == Tag.id)
            .where(CustomerTag.customer_id == customer_id)
            .order_by(col(Tag.name))
        ).all()
        return [(int(i), str(n)) for i, n in rows]

    have = {i for i, _ in names(kept.id)}
    room = MAX_TAGS_PER_CUSTOMER - len(have)
    for tag_id, name in names(duplicate.id):
        if tag_id in have:
            continue
        if room > 0:
            session.add(CustomerTag(customer_id=kept.id, tag_id=tag_id, created_by=actor))  # type: ignore[arg-type]
            moved.tags_added.append(name)
            room -= 1
        else:
            moved.tags_dropped.append(name)
    link = CustomerTag.__table__  # type: ignore[attr-defined]
    session.execute(sa.delete(link).where(link.c.customer_id == duplicate.id))


def merge_customer_into(
    session: Session, *, kept: Customer, duplicate: Customer, actor: str
) -> MovedRows:
    """Move documents, contacts, follow-ups, cooperation records and tags, then delete
    ``duplicate``; one audit event keeps its every field. Objects are not moved here (the
    caller refiles the documents).

    Tags beyond the limit of five are dropped (listed in the result and the audit event).
    """
    moved = MovedRows()
    with atomic(session):
        moved.documents = _ids(session, Document, duplicate.id)  # type: ignore[arg-type]
        for document_id in moved.documents:
            update_document(
                session,
                document_id=document_id,
                changes={"customer_id": kept.id},
                actor=actor,
                action="document.merge",
                detail=f"客户 {duplicate.code} 合并到 {kept.code}",
            )
        _move_rows(session, kept, duplicate, moved)
        _move_tags(session, kept, duplicate, moved, actor)
        before = snapshot(duplicate, CUSTOMER_AUDIT_FIELDS)
        session.execute(sa.delete(Customer).where(col(Customer.id) == duplicate.id))
        refresh_search_grams(session, [kept.id, duplicate.id])  # type: ignore[list-item]
        add_audit_event(
            session,
            actor=actor,
            action="customer.merge",
            entity_type="customer",
            entity_id=duplicate.code,
            before=before,
            after={"merged_into": kept.code, **vars(moved)},
        )
        add_audit_event(
            session,
            actor=actor,
            action="customer.merge_into",
            entity_type="customer",
            entity_id=kept.code,
            after={"merged_from": duplicate.code, **vars(moved)},
        )
    session.expunge(duplicate)
    return moved
