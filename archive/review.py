"""The review service: the queue, claims and every reviewer decision, as plain functions.

Transitions are explicit (:data:`TRANSITIONS`); anything not in the table is refused with
:class:`InvalidTransitionError` (e.g. approving a rejected document). Every action appends an
audit event with before/after values (through ``models.repo``).

Transactions: the deciding functions (:func:`claim`, :func:`release`, :func:`approve`,
:func:`reject`, :func:`correct`, :func:`relink`, :func:`refile`) COMMIT the session they are
given - a claim must be visible to other reviewers at once, and an object move must commit the
database before the old key is deleted. Pass a session without unrelated pending work. On an
error they roll back and raise; nothing is half-written in the database.

Moving objects (a change of customer, type or submitted date changes the key): copy the object
to its new key, verify the copy's sha256 against the database, update the database and commit,
and only then delete the old key. A crash after the copy but before the commit leaves an extra
object with identical bytes that no row references; a crash after the commit leaves the old key
(unreferenced, identical bytes) behind. Either way every row points at a verified object, and
the integrity check sees the leftover as an orphan whose sha256 matches a document and can
delete it safely. :func:`refile` moves a document to the keys its current data call for (e.g.
after a customer was renamed).

Claims: :func:`claim` marks a document as being worked on by one reviewer until
``claim_expires_at``; decisions by anybody else are refused (:class:`ClaimConflictError`) while
the claim is live; an expired claim may be taken over.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from archive.errors import StorageError
from archive.naming import archive_key, first_free_key, original_key
from archive.permissions import (
    Action,
    can_view_customer,
    can_view_document,
    require,
    visible_document_filter,
)
from archive.storage.base import ObjectStore
from config.errors import DossierError, ErrorCode
from config.taxonomy import Taxonomy, load_taxonomy
from models import repo
from models.customer import Customer
from models.db import utcnow
from models.document import (
    QUEUE_STATUSES,
    SOFT_REVIEW_REASONS,
    Document,
    DocumentStatus,
    check_document_type,
    in_queue,
)
from models.repo import NotFoundError
from models.user import User
from models.validation import ValidationError, validate_date

log = logging.getLogger(__name__)

PENDING = DocumentStatus.PENDING_REVIEW.value
UPDATING = DocumentStatus.UPDATING.value
ARCHIVED = DocumentStatus.ARCHIVED.value
REJECTED = DocumentStatus.REJECTED.value
SUPERSEDED = DocumentStatus.SUPERSEDED.value

#: Statuses that are waiting for a reviewer: ``models.document.QUEUE_STATUSES``.
#: Reasons that do not make a document an anomaly (the stored ``Document.is_anomaly``).
SOFT_REASONS = SOFT_REVIEW_REASONS
#: Reasons that a successful relink resolves.
LINK_REASONS = frozenset({"unlinked", "ambiguous_customer"})
DEFAULT_CLAIM_TTL_MINUTES = 15

#: The transition table: action -> {from status: to status}. Missing pairs are refused.
TRANSITIONS: dict[str, dict[str, str]] = {
    "approve": {PENDING: ARCHIVED, UPDATING: ARCHIVED},
    "reject": {PENDING: REJECTED, UPDATING: REJECTED},
    "correct": {PENDING: PENDING, UPDATING: UPDATING},
    "relink": {PENDING: PENDING, UPDATING: UPDATING},
    "claim": {PENDING: PENDING, UPDATING: UPDATING},
    "release": {PENDING: PENDING, UPDATING: UPDATING},
}

_ACTION_LABELS = {
    "approve": "审核通过",
    "reject": "驳回",
    "correct": "更正",
    "relink": "关联客户",
    "claim": "领取",
    "release": "释放",
}


class InvalidTransitionError(DossierError):
    """The action is not allowed in the document's current status."""

    code = ErrorCode.INVALID_TRANSITION


class ClaimConflictError(DossierError):
    """Another reviewer holds a live claim on the document."""

    code = ErrorCode.CONFLICT


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    """One row of the review queue (no OCR text: the queue page must stay light)."""

    document_id: int
    document_type: str
    status: str
    submitted_date: date
    created_at: datetime
    original_filename: str
    page_count: int | None
    review_reasons: tuple[str, ...]
    is_anomaly: bool
    customer_code: str | None
    customer_name: str | None
    customer_type: str | None
    owner_id: int | None
    claimed_by: str | None
    claim_expires_at: datetime | None


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue, the total matching the filters, and counts per reason code.

    ``counts_by_reason`` counts documents per reason under every filter except ``reason``
    (so a reason tab can show its number while another is selected); zero counts are omitted.
    """

    items: list[QueueItem]
    total: int
    counts_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectMove:
    """An object moved (or to be moved) from ``old_key`` to ``new_key``."""

    kind: str  # "pdf" or "original"
    old_key: str
    new_key: str
    sha256: str


# --- transitions ------------------------------------------------------------------------------


def next_status(action: str, status: str) -> str:
    """The status after ``action`` from ``status``.

    Raises:
        InvalidTransitionError: The pair is not in :data:`TRANSITIONS`.
    """
    target = TRANSITIONS.get(action, {}).get(status)
    if target is None:
        label = load_taxonomy().document_status_label(status)
        raise InvalidTransitionError(
            f"资料状态为“{label}”，不能{_ACTION_LABELS.get(action, action)}",
            action=action,
            status=status,
        )
    return target


def allowed_actions(status: str) -> list[str]:
    """Actions the transition table allows from ``status`` (for buttons and hints)."""
    return [action for action, moves in TRANSITIONS.items() if status in moves]


# --- the queue --------------------------------------------------------------------------------
#
# Three statements per page, all answered from the partial covering index ix_document_queue
# (models.document) on PostgreSQL: the reason lists grouped by their JSON text (total and counts
# per reason, summed here), the page's ids in queue order, then those rows with their customer.


def _reasons_text() -> sa.ColumnElement[str]:
    # JSON as text with spaces removed: '["second_check"]'. Reason codes are ASCII.
    return sa.func.replace(sa.cast(Document.review_reasons, sa.Text), " ", "")


def _has_reason(reason: str) -> sa.ColumnElement[bool]:
    return _reasons_text().contains(f'"{reason}"', autoescape=True)


def _queue_order() -> list[sa.ColumnElement[Any]]:
    return [col(Document.is_anomaly).desc(), col(Document.created_at), col(Document.id)]


@dataclass(frozen=True)
class _QueueFilter:
    """The WHERE clause of a queue view, and whether it needs the customer joined."""

    conditions: list[sa.ColumnElement[bool]]
    needs_customer: bool

    def select_from(self, statement: sa.Select[Any]) -> sa.Select[Any]:
        """``statement`` over document (joined with customer when needed), filtered."""
        statement = statement.select_from(Document)
        if self.needs_customer:
            statement = statement.outerjoin(Customer, col(Document.customer_id) == col(Customer.id))
        return statement.where(*self.conditions)


def _queue_filter(
    *,
    user: User,
    document_type: str | None,
    customer_type: str | None,
    owner: str | None,
) -> _QueueFilter:
    conditions = [in_queue(), visible_document_filter(user)]
    if document_type:
        conditions.append(col(Document.document_type) == document_type)
    if customer_type:
        conditions.append(col(Customer.customer_type) == customer_type)
    if owner:
        owner_ids = select(User.id).where(User.username == owner).scalar_subquery()
        conditions.append(col(Customer.owner_id) == owner_ids)
    return _QueueFilter(conditions, needs_customer=bool(customer_type or owner))


def _queue_item(row: Any) -> QueueItem:
    return QueueItem(
        document_id=row.id,
        document_type=row.document_type,
        status=row.status,
        submitted_date=row.submitted_date,
        created_at=row.created_at,
        original_filename=row.original_filename,
        page_count=row.page_count,
        review_reasons=tuple(row.review_reasons or ()),
        is_anomaly=bool(row.is_anomaly),
        customer_code=row.customer_code,
        customer_name=row.customer_name,
        customer_type=row.customer_type,
        owner_id=row.owner_id,
        claimed_by=row.claimed_by,
        claim_expires_at=row.claim_expires_at,
    )


def _parse_reasons(raw: str | None) -> list[str]:
    reasons = json.loads(raw) if raw else []
    return [r for r in reasons if isinstance(r, str)] if isinstance(reasons, list) else []


def _reason_lists(session: Session, where: _QueueFilter) -> list[tuple[list[str], int]]:
    """Each distinct reason list under ``where`` with how many documents carry it.

    One scan, grouped by the list's JSON text: there are few distinct lists (combinations of
    a handful of codes), so this is far cheaper than expanding every row's JSON in SQL.
    """
    text = sa.cast(Document.review_reasons, sa.Text)
    statement = where.select_from(sa.select(text, sa.func.count())).group_by(text)
    return [(_parse_reasons(raw), int(n)) for raw, n in session.execute(statement).all()]


def _count_reasons(lists: Sequence[tuple[list[str], int]], codes: Sequence[str]) -> dict[str, int]:
    """Documents per reason code in ``codes`` (zero counts omitted), in ``codes`` order."""
    counts = dict.fromkeys(codes, 0)
    for reasons, n in lists:
        for code in set(reasons):
            if code in counts:
                counts[code] += n
    return {code: n for code, n in counts.items() if n}


def _page_rows(
    session: Session, where: _QueueFilter, *, reason: str | None, limit: int, offset: int
) -> list[QueueItem]:
    """The page: ids in queue order first (from the index), then only those rows in full."""
    ids = where.select_from(sa.select(Document.id))
    if reason:
        ids = ids.where(_has_reason(reason))
    ids = ids.order_by(*_queue_order()).limit(limit).offset(offset)
    statement = (
        sa.select(
            Document.id,
            Document.document_type,
            Document.status,
            Document.submitted_date,
            Document.created_at,
            Document.original_filename,
            Document.page_count,
            Document.review_reasons,
            Document.claimed_by,
            Document.claim_expires_at,
            Document.is_anomaly,
            col(Customer.code).label("customer_code"),
            col(Customer.name).label("customer_name"),
            Customer.customer_type,
            Customer.owner_id,
        )
        .select_from(Document)
        .outerjoin(Customer, col(Document.customer_id) == col(Customer.id))
        .where(col(Document.id).in_(ids.scalar_subquery()))
        .order_by(*_queue_order())
    )
    return [_queue_item(row) for row in session.execute(statement).all()]


def review_queue(
    session: Session,
    *,
    user: User,
    reason: str | None = None,
    document_type: str | None = None,
    customer_type: str | None = None,
    owner: str | None = None,
    limit: int = 50,
    offset: int = 0,
    taxonomy: Taxonomy | None = None,
) -> QueuePage:
    """Documents waiting for review (待审核 and 更新中) that ``user`` may see.

    Order: anomalies first (a document with any reason other than the soft ``second_check``,
    stored as ``Document.is_anomaly``), then oldest first (``created_at``, then id).

    Args:
        session: Open session (read only).
        user: Whose view (sales see only their customers' documents).
        reason: Only documents carrying this reason code.
        document_type: Only this document type code.
        customer_type: Only documents linked to a customer of this type.
        owner: Only documents of customers owned by this username.
        limit: Page size.
        offset: Rows skipped (pagination).
        taxonomy: Where the reason codes to count come from (default taxonomy when None).

    Returns:
        A :class:`QueuePage`.
    """
    where = _queue_filter(
        user=user, document_type=document_type, customer_type=customer_type, owner=owner
    )
    lists = _reason_lists(session, where)
    if reason:
        total = sum(n for reasons, n in lists if reason in reasons)
    else:
        total = sum(n for _, n in lists)
    items = _page_rows(session, where, reason=reason, limit=limit, offset=offset)
    codes = list((taxonomy or load_taxonomy()).review_reasons)
    return QueuePage(items=items, total=total, counts_by_reason=_count_reasons(lists, codes))


def _workable(user: User, now: datetime) -> sa.ColumnElement[bool]:
    """Not held by a live claim of somebody else."""
    return sa.or_(
        col(Document.claimed_by).is_(None),
        col(Document.claimed_by) == user.username,
        col(Document.claim_expires_at).is_(None),
        col(Document.claim_expires_at) <= now,
    )


def next_in_queue(
    session: Session,
    *,
    user: User,
    exclude: Sequence[int] = (),
    now: datetime | None = None,
    reason: str | None = None,
    document_type: str | None = None,
    customer_type: str | None = None,
    owner: str | None = None,
) -> int | None:
    """Id of the first queue document ``user`` can work on (not claimed live by someone else).

    Args:
        session: Open session (read only).
        user: The reviewer.
        exclude: Document ids to skip (e.g. the one just decided).
        now: The current time.
        reason: Filters as for :func:`review_queue`.
        document_type: Filters as for :func:`review_queue`.
        customer_type: Filters as for :func:`review_queue`.
        owner: Filters as for :func:`review_queue`.
    """
    where = _queue_filter(
        user=user, document_type=document_type, customer_type=customer_type, owner=owner
    )
    statement = where.select_from(sa.select(Document.id)).where(_workable(user, now or utcnow()))
    if reason:
        statement = statement.where(_has_reason(reason))
    if exclude:
        statement = statement.where(col(Document.id).not_in(list(exclude)))
    return session.execute(statement.order_by(*_queue_order()).limit(1)).scalar_one_or_none()


# --- shared helpers ---------------------------------------------------------------------------


def _load_for_update(session: Session, document_id: int) -> Document:
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


def _claim_is_live(document: Document, now: datetime) -> bool:
    return bool(
        document.claimed_by
        and document.claim_expires_at is not None
        and document.claim_expires_at > now
    )


def _check_claim(document: Document, user: User, now: datetime) -> None:
    if _claim_is_live(document, now) and document.claimed_by != user.username:
        raise ClaimConflictError(
            f"资料 {document.id} 正由 {document.claimed_by} 审核中",
            document_id=document.id,
            claimed_by=document.claimed_by,
        )


def _begin(
    session: Session, *, document_id: int, user: User, action: str, now: datetime
) -> Document:
    """Permission, visibility, row lock, claim and transition checks shared by all actions."""
    require(user, Action.REVIEW)
    document = _load_for_update(session, document_id)
    if not can_view_document(user, document, _customer_of(session, document)):
        raise NotFoundError(f"资料 {document_id} 不存在", document_id=document_id)
    next_status(action, document.status)
    _check_claim(document, user, now)
    return document


def _run(session: Session, work: Callable[[], Any]) -> Any:
    try:
        result = work()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


_CLEAR_CLAIM = {"claimed_by": None, "claimed_at": None, "claim_expires_at": None}


# --- claims -----------------------------------------------------------------------------------


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

    def work() -> Document:
        document = _begin(session, document_id=document_id, user=user, action="claim", now=now)
        previous = document.claimed_by if _claim_is_live(document, now) else None
        changes = {
            "claimed_by": user.username,
            "claimed_at": now,
            "claim_expires_at": now + timedelta(minutes=ttl_minutes),
        }
        detail = "takeover of an expired claim" if document.claimed_by and not previous else None
        return repo.update_document(
            session,
            document_id=document_id,
            changes=changes,
            actor=user.username,
            action="document.claim",
            detail=detail,
        )

    return _run(session, work)


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

    def work() -> Document:
        require(user, Action.REVIEW)
        document = _load_for_update(session, document_id)
        next_status("release", document.status)
        if user.role != "admin":
            _check_claim(document, user, now)
        return repo.update_document(
            session,
            document_id=document_id,
            changes=dict(_CLEAR_CLAIM),
            actor=user.username,
            action="document.release",
        )

    return _run(session, work)


# --- object moves -----------------------------------------------------------------------------

_SUFFIXED = re.compile(r"^(?P<stem>.*)-(?P<n>[2-9]|[1-9]\d+)(?P<ext>\.[0-9a-z]{1,16})?$")


def _same_slot(current: str | None, base: str) -> bool:
    """Whether ``current`` is ``base`` or ``base`` with a collision suffix (``-2``, ...)."""
    if current is None or current == base:
        return current is not None
    m = _SUFFIXED.match(current)
    return bool(m) and f"{m['stem']}{m['ext'] or ''}" == base


def _key_users(session: Session, key: str) -> list[int]:
    statement = select(Document.id).where(
        (col(Document.pdf_key) == key) | (col(Document.original_key) == key)
    )
    return [i for i in session.exec(statement).all() if i is not None]


def _taken(session: Session, store: ObjectStore, *, sha256: str, me: int) -> Callable[[str], bool]:
    def taken(key: str) -> bool:
        if any(i != me for i in _key_users(session, key)):
            return True
        return store.exists(key) and store.head(key).sha256 not in (None, sha256)

    return taken


def _target_names(
    *, taxonomy: Taxonomy, customer: Customer | None, document_type: str, submitted: date
) -> dict[str, Any]:
    return {
        "templates": taxonomy.templates,
        "customer_type_label": (
            taxonomy.customer_type(customer.customer_type).label if customer else None
        ),
        "customer_name": customer.name if customer else None,
        "document_type_label": taxonomy.document_type(document_type).label,
        "submitted": submitted,
    }


def _extension(key: str | None, fallback: str) -> str:
    name = (key or "").rpartition("/")[2]
    stem, dot, ext = name.rpartition(".")
    return f".{ext}" if dot and stem else fallback


def plan_moves(
    session: Session,
    store: ObjectStore,
    *,
    document: Document,
    taxonomy: Taxonomy,
    customer: Customer | None,
    document_type: str,
    submitted: date,
) -> list[ObjectMove]:
    """The moves that bring ``document``'s objects to the keys the given values call for.

    Keys already in the right place (or a collision-suffixed variant of it) are not moved; an
    original shared with other documents (one input file, several parts) is not moved either.
    """
    names = _target_names(
        taxonomy=taxonomy, customer=customer, document_type=document_type, submitted=submitted
    )
    me = document.id or 0
    moves: list[ObjectMove] = []
    if document.pdf_key and document.pdf_sha256:
        base = archive_key(**names, max_key_bytes=store.max_key_bytes)
        if not _same_slot(document.pdf_key, base):
            new = first_free_key(
                base, taken=_taken(session, store, sha256=document.pdf_sha256, me=me)
            )
            moves.append(ObjectMove("pdf", document.pdf_key, new, document.pdf_sha256))
    shared = any(i != me for i in _key_users(session, document.original_key or ""))
    if document.original_key and not shared:
        ext = _extension(document.original_key, _extension(document.original_filename, ""))
        base = original_key(**names, original_ext=ext, max_key_bytes=store.max_key_bytes)
        if not _same_slot(document.original_key, base):
            taken = _taken(session, store, sha256=document.original_sha256, me=me)
            new = first_free_key(base, taken=taken)
            moves.append(
                ObjectMove("original", document.original_key, new, document.original_sha256)
            )
    return moves


def _copy_verified(store: ObjectStore, moves: Sequence[ObjectMove]) -> None:
    done: list[ObjectMove] = []
    try:
        for move in moves:
            store.copy(move.old_key, move.new_key)
            store.verify(move.new_key, expected_sha256=move.sha256)
            done.append(move)
    except BaseException:
        _discard_copies(store, [*done, *moves[len(done) : len(done) + 1]])
        raise


def _discard_copies(store: ObjectStore, moves: Sequence[ObjectMove]) -> None:
    """Best effort after a failure: remove new copies (leftovers are harmless orphans)."""
    for move in moves:
        try:
            store.delete(move.new_key)
        except (StorageError, OSError):
            log.warning("could not remove copy %s after a failed move", move.new_key)


def _delete_old(session: Session, store: ObjectStore, moves: Sequence[ObjectMove]) -> None:
    for move in moves:
        if _key_users(session, move.old_key):
            continue  # still referenced (should not happen): keep it
        try:
            store.delete(move.old_key)
        except (StorageError, OSError) as e:
            log.warning(
                "old key %s left behind after a move (%s); integrity check repairs it",
                move.old_key,
                type(e).__name__,
            )


def _key_changes(moves: Sequence[ObjectMove]) -> dict[str, str]:
    column = {"pdf": "pdf_key", "original": "original_key"}
    return {column[m.kind]: m.new_key for m in moves}


def _update_with_moves(
    session: Session,
    store: ObjectStore,
    *,
    document: Document,
    changes: dict[str, Any],
    taxonomy: Taxonomy,
    actor: str,
    action: str,
    detail: str | None = None,
) -> tuple[Document, list[ObjectMove]]:
    """Copy+verify, update+commit, delete old keys (see the module docstring)."""
    customer_id = changes.get("customer_id", document.customer_id)
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    moves = plan_moves(
        session,
        store,
        document=document,
        taxonomy=taxonomy,
        customer=customer,
        document_type=changes.get("document_type", document.document_type),
        submitted=changes.get("submitted_date", document.submitted_date),
    )
    _copy_verified(store, moves)
    try:
        updated = repo.update_document(
            session,
            document_id=document.id or 0,
            changes={**changes, **_key_changes(moves)},
            actor=actor,
            action=action,
            detail=detail,
            taxonomy=taxonomy,
        )
        session.commit()
    except BaseException:
        session.rollback()
        _discard_copies(store, moves)
        raise
    _delete_old(session, store, moves)
    return updated, moves


# --- decisions --------------------------------------------------------------------------------


def _corrected_field(old: Any, value: Any, actor: str) -> dict[str, Any]:
    text = None if value is None else unicodedata.normalize("NFC", str(value)).strip() or None
    base = dict(old) if isinstance(old, Mapping) else {"page": None}
    base.update({"value": text, "confidence": None, "reason": None, "corrected_by": actor})
    return base


def _field_changes(
    document: Document, fields: Mapping[str, Any] | None, actor: str
) -> dict[str, Any]:
    if not fields:
        return {}
    merged = dict(document.fields or {})
    for name, value in fields.items():
        if not isinstance(name, str) or not name or name.startswith("_"):
            raise ValidationError(f"字段名“{name}”无效", field="fields", reason="field_name")
        merged[name] = _corrected_field(merged.get(name), value, actor)
    return {"fields": merged}


def correct(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    user: User,
    taxonomy: Taxonomy,
    fields: Mapping[str, Any] | None = None,
    document_type: str | None = None,
    submitted_date: date | str | None = None,
    now: datetime | None = None,
) -> Document:
    """Correct extracted fields, the document type or the submitted date (commits).

    The status does not change (approve afterwards, or use ``approve(corrections=...)``).
    A corrected field becomes ``{"value": ..., "confidence": None, "reason": None,
    "corrected_by": user}`` (its page is kept). A new type or date moves the objects to their
    new keys (see the module docstring for the crash-safe order).

    Args:
        session: Open session (committed).
        store: The object store holding the document's objects.
        document_id: The document.
        user: The reviewer (role reviewer or admin).
        taxonomy: Types, labels and naming templates.
        fields: ``{field_name: new value or None}``; other fields are kept.
        document_type: New type code (a Chinese label is accepted).
        submitted_date: New submitted date (``date`` or ``YYYY-MM-DD``).
        now: The current time.

    Raises:
        PermissionDeniedError, NotFoundError, InvalidTransitionError, ClaimConflictError,
        ValidationError: As the names say; nothing is changed.
        StorageError: A copy failed or did not verify; nothing is changed.
    """
    now = now or utcnow()
    try:
        document = _begin(session, document_id=document_id, user=user, action="correct", now=now)
        changes = _field_changes(document, fields, user.username)
        if document_type is not None:
            changes["document_type"] = check_document_type(document_type, taxonomy)
        if submitted_date is not None:
            changes["submitted_date"] = validate_date(submitted_date, "submitted_date")
    except BaseException:
        session.rollback()
        raise
    updated, _ = _update_with_moves(
        session,
        store,
        document=document,
        changes=changes,
        taxonomy=taxonomy,
        actor=user.username,
        action="document.correct",
    )
    return updated


def _version_changes(session: Session, document: Document, customer: Customer) -> dict[str, Any]:
    if document.supersedes_id is not None:
        return {}
    current = repo.current_document_of_type(
        session, customer_id=customer.id or 0, document_type=document.document_type
    )
    if current is None or current.id == document.id:
        return {}
    return {"supersedes_id": current.id}


def relink(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    customer_code: str,
    user: User,
    taxonomy: Taxonomy,
    now: datetime | None = None,
) -> Document:
    """Link a document to another (or its first) customer and move its objects (commits).

    The reasons ``unlinked`` and ``ambiguous_customer`` are dropped. When the customer already
    has a document of this type in effect, this one becomes its new version
    (``supersedes_id``, reason ``new_version``); the old one is superseded on approval.

    Raises:
        PermissionDeniedError, InvalidTransitionError, ClaimConflictError: As the names say.
        NotFoundError: No such document or customer (or not visible to the user).
        StorageError: A copy failed or did not verify; nothing is changed.
    """
    now = now or utcnow()
    try:
        document = _begin(session, document_id=document_id, user=user, action="relink", now=now)
        customer = repo.get_customer(session, code=customer_code)
        if customer is None or not can_view_customer(user, customer):
            raise NotFoundError(f"客户 {customer_code} 不存在", customer_code=customer_code)
        reasons = [r for r in document.review_reasons or [] if r not in LINK_REASONS]
        changes: dict[str, Any] = {"customer_id": customer.id}
        if customer.id != document.customer_id:
            changes.update(_version_changes(session, document, customer))
        if "supersedes_id" in changes and "new_version" not in reasons:
            reasons.append("new_version")
        changes["review_reasons"] = reasons
    except BaseException:
        session.rollback()
        raise
    updated, _ = _update_with_moves(
        session,
        store,
        document=document,
        changes=changes,
        taxonomy=taxonomy,
        actor=user.username,
        action="document.relink",
        detail=f"linked to {customer.code}",
    )
    return updated


def _supersede_previous(session: Session, document: Document, actor: str) -> None:
    """Walk the version chain back: every older version still archived or updating is
    superseded (A archived <- B updating <- C approved leaves only C archived)."""
    seen: set[int] = {document.id or 0}
    previous_id = document.supersedes_id
    while previous_id is not None and previous_id not in seen:
        seen.add(previous_id)
        previous = _load_for_update(session, previous_id)
        if previous.status in (ARCHIVED, UPDATING):
            repo.update_document(
                session,
                document_id=previous.id or 0,
                changes={"status": SUPERSEDED, **_CLEAR_CLAIM},
                actor=actor,
                action="document.supersede",
                detail=f"replaced by document {document.id}",
            )
        previous_id = previous.supersedes_id


def _apply_corrections(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    user: User,
    taxonomy: Taxonomy,
    corrections: Mapping[str, Any],
    now: datetime,
) -> None:
    known = {"fields", "document_type", "submitted_date", "customer_code"}
    unknown = set(corrections) - known
    if unknown:
        raise ValidationError(
            f"无法更正“{sorted(unknown)[0]}”", field=sorted(unknown)[0], reason="not_updatable"
        )
    if corrections.get("customer_code"):
        relink(
            session,
            store,
            document_id=document_id,
            customer_code=corrections["customer_code"],
            user=user,
            taxonomy=taxonomy,
            now=now,
        )
    rest = {k: corrections.get(k) for k in ("fields", "document_type", "submitted_date")}
    if any(v is not None for v in rest.values()):
        correct(
            session, store, document_id=document_id, user=user, taxonomy=taxonomy, now=now, **rest
        )


def approve(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    user: User,
    taxonomy: Taxonomy,
    corrections: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Document:
    """Approve a document (待审核/更新中 -> 已归档), optionally correcting it first (commits).

    For a new version (``supersedes_id``), the previous version becomes ``superseded`` - on
    approval only, in the same transaction. The claim is cleared; ``reviewed_by``/``reviewed_at``
    are set. A document without a customer cannot be archived (relink it first).

    Args:
        session: Open session (committed).
        store: The object store (used when corrections move objects).
        document_id: The document.
        user: The reviewer (role reviewer or admin).
        taxonomy: Types, labels and naming templates.
        corrections: Applied first (each step commits): ``fields`` (dict),
            ``document_type``, ``submitted_date`` (see :func:`correct`) and ``customer_code``
            (see :func:`relink`).
        now: The current time.

    Raises:
        PermissionDeniedError, NotFoundError, InvalidTransitionError, ClaimConflictError,
        ValidationError, StorageError: As the names say.
    """
    now = now or utcnow()
    if corrections:
        _apply_corrections(
            session,
            store,
            document_id=document_id,
            user=user,
            taxonomy=taxonomy,
            corrections=corrections,
            now=now,
        )

    def work() -> Document:
        document = _begin(session, document_id=document_id, user=user, action="approve", now=now)
        if document.customer_id is None:
            raise InvalidTransitionError(
                "未关联客户的资料不能归档，请先关联客户", action="approve", status=document.status
            )
        _supersede_previous(session, document, user.username)
        return _decide(session, document, user=user, action="approve", now=now,
                       taxonomy=taxonomy)

    return _run(session, work)


def reject(
    session: Session,
    *,
    document_id: int,
    user: User,
    reason: str,
    now: datetime | None = None,
) -> Document:
    """Reject a document with a reason for people (待审核/更新中 -> 已驳回; commits).

    The reason is kept in the audit event's detail and in ``fields["_rejection"]``. The
    objects stay where they are; a rejected version never supersedes anything.

    Raises:
        ValidationError: Empty reason.
        PermissionDeniedError, NotFoundError, InvalidTransitionError, ClaimConflictError:
            As the names say.
    """
    now = now or utcnow()
    text = unicodedata.normalize("NFC", reason or "").strip()
    if not text:
        raise ValidationError("请填写驳回原因", field="reason", reason="required")

    def work() -> Document:
        document = _begin(session, document_id=document_id, user=user, action="reject", now=now)
        fields = {**(document.fields or {}), "_rejection": {"reason": text, "by": user.username}}
        return _decide(session, document, user=user, action="reject", now=now,
                       extra={"fields": fields}, detail=text)

    return _run(session, work)


def _decide(
    session: Session,
    document: Document,
    *,
    user: User,
    action: str,
    now: datetime,
    extra: Mapping[str, Any] | None = None,
    detail: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> Document:
    """Record a reviewer's decision: the status it leads to, who and when; the claim ends."""
    changes = {
        "status": next_status(action, document.status),
        "reviewed_by": user.username,
        "reviewed_at": now,
        **(extra or {}),
        **_CLEAR_CLAIM,
    }
    return repo.update_document(session, document_id=document.id, changes=changes,
                                actor=user.username, action=f"document.{action}",
                                detail=detail, taxonomy=taxonomy)


def refile(
    session: Session,
    store: ObjectStore,
    *,
    document_id: int,
    taxonomy: Taxonomy,
    actor: str,
) -> list[ObjectMove]:
    """Move a document's objects to the keys its current data call for (commits when moving).

    For any status (e.g. after a customer was renamed, its archived documents are refiled).
    Uses the same copy / verify / commit / delete order as corrections.

    Returns:
        The moves done (empty when every key is already right).

    Raises:
        NotFoundError: No such document.
        StorageError: A copy failed or did not verify; nothing is changed.
    """
    document = _load_for_update(session, document_id)
    _, moves = _update_with_moves(
        session,
        store,
        document=document,
        changes={},
        taxonomy=taxonomy,
        actor=actor,
        action="document.refile",
    )
    return moves


__all__ = [
    "QUEUE_STATUSES",
    "TRANSITIONS",
    "ClaimConflictError",
    "InvalidTransitionError",
    "ObjectMove",
    "QueueItem",
    "QueuePage",
    "allowed_actions",
    "approve",
    "claim",
    "correct",
    "next_in_queue",
    "next_status",
    "plan_moves",
    "refile",
    "reject",
    "release",
    "relink",
    "review_queue",
]
