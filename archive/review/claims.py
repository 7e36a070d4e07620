"""Claims, and the transaction every review decision runs in.

:func:`claim` marks a document as being worked on by one reviewer until ``claim_expires_at``;
decisions by anybody else are refused (:class:`ClaimConflictError`) while the claim is live; an
expired claim may be taken over.

:func:`decision` is the one begin/commit/rollback of review: it checks permission, visibility,
the row lock, the transition and the claim, runs the body, commits, and rolls back on any error
(nothing is half-written in the database).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlmodel import Session, select

from archive.errors import ClaimConflictError
from archive.permissions import Action, can_view_document, require
from archive.review.transitions import next_status
from models import repo
from models.customer import Customer
from models.db import utcnow
from models.document import Document
from models.repo import NotFoundError
from models.user import User

DEFAULT_CLAIM_TTL_MINUTES = 15

#: The changes that end a claim.
CLEAR_CLAIM = {"claimed_by": None, "claimed_at": None, "claim_expires_at": None}


def load_for_update(session: Session, document_id: int) -> Document:
    """The document, freshly read and locked for this transaction.

    Raises:
        NotFoundError: No such document.
    """
    statement = (
        select(Document)
        .where(Document.id == document_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    document = session.exec(statement).first()
    if document is None:
        raise NotFoundError(f"资料 {document_id} 不存在", document_id=document_id)
    return document


def _customer_of(session: Session, document: Document) -> Customer | None:
    if document.customer_id is None:
        return None
    return session.get(Customer, document.customer_id)


def claim_is_live(document: Document, now: datetime) -> bool:
    """Whether somebody holds an unexpired claim on ``document``."""
    return bool(
        document.claimed_by
        and document.claim_expires_at is not None
        and document.claim_expires_at > now
    )


def check_claim(document: Document, user: User, now: datetime) -> None:
    """Refuse ``user`` while another reviewer holds a live claim.

    Raises:
        ClaimConflictError: Somebody else holds the document.
    """
    if claim_is_live(document, now) and document.claimed_by != user.username:
        raise ClaimConflictError(
            f"资料 {document.id} 正由 {document.claimed_by} 审核中",
            document_id=document.id,
            claimed_by=document.claimed_by,
        )


def _checked(
    session: Session, *, document_id: int, user: User, action: str, now: datetime
) -> Document:
    """Permission, visibility, row lock, claim and transition checks shared by all actions."""
    require(user, Action.REVIEW)
    document = load_for_update(session, document_id)
    if not can_view_document(user, document, _customer_of(session, document)):
        raise NotFoundError(f"资料 {document_id} 不存在", document_id=document_id)
    next_status(action, document.status)
    check_claim(document, user, now)
    return document


@contextmanager
def transaction(session: Session) -> Iterator[None]:
    """Commit at the end of the block; roll back and re-raise on any error."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


@contextmanager
def decision(
    session: Session, document_id: int, user: User, *, action: str, now: datetime
) -> Iterator[Document]:
    """The checked, locked document for ``action`` by ``user``, in one transaction.

    ``with decision(session, document_id, user, action="approve", now=now) as document:``
    commits when the block ends and rolls back when it raises (the checks included). A body
    that moves objects commits through :func:`archive.placement.move_objects` itself; the
    closing commit then has nothing left to do.

    Raises:
        PermissionDeniedError, NotFoundError, InvalidTransitionError, ClaimConflictError: The
            checks failed; nothing is changed.
    """
    with transaction(session):
        yield _checked(session, document_id=document_id, user=user, action=action, now=now)


def claim(
    session: Session,
    *,
    document_id: int,
    user: User,
    ttl_minutes: int = DEFAULT_CLAIM_TTL_MINUTES,
    now: datetime | None = None,
) -> Document:
    """Claim a document for ``ttl_minutes`` so no other reviewer works on it (commits).

    Claiming again by the same user extends the claim; an expired claim is taken over.

    Raises:
        PermissionDeniedError: The user may not review.
        NotFoundError: No such document (or not visible to the user).
        InvalidTransitionError: The document is not waiting for review.
        ClaimConflictError: Another reviewer holds a live claim.
    """
    now = now or utcnow()
    with decision(session, document_id, user, action="claim", now=now) as document:
        previous = document.claimed_by if claim_is_live(document, now) else None
        changes = {
            "claimed_by": user.username,
            "claimed_at": now,
            "claim_expires_at": now + timedelta(minutes=ttl_minutes),
        }
        detail = "takeover of an expired claim" if document.claimed_by and not previous else None
        updated = repo.update_document(
            session,
            document_id=document_id,
            changes=changes,
            actor=user.username,
            action="document.claim",
            detail=detail,
        )
    return updated


def release(
    session: Session, *, document_id: int, user: User, now: datetime | None = None
) -> Document:
    """Give up a claim (commits). Releasing a document nobody holds changes nothing.

    Raises:
        PermissionDeniedError: The user may not review.
        NotFoundError: No such document.
        InvalidTransitionError: The document is not waiting for review.
        ClaimConflictError: Another reviewer holds a live claim (admins may release it).
    """
    now = now or utcnow()
    with transaction(session):
        require(user, Action.REVIEW)
        document = load_for_update(session, document_id)
        next_status("release", document.status)
        if user.role != "admin":
            check_claim(document, user, now)
        updated = repo.update_document(
            session,
            document_id=document_id,
            changes=dict(CLEAR_CLAIM),
            actor=user.username,
            action="document.release",
        )
    return updated


__all__ = [
    "CLEAR_CLAIM",
    "DEFAULT_CLAIM_TTL_MINUTES",
    "check_claim",
    "claim",
    "claim_is_live",
    "decision",
    "load_for_update",
    "release",
    "transaction",
]
