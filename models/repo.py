"""Repository functions: the only code that writes customers, documents, users and runs.

Conventions:

- Keyword-only arguments; the caller owns the transaction (these functions flush, never
  commit). Use ``models.db.session_scope`` or commit yourself.
- Every mutating function appends an :class:`AuditEvent` in the same transaction.
- Values are validated before anything is written; the writes of one call run inside a
  savepoint, so a refused call (``ValidationError``, ``ConflictError``) leaves nothing behind
  and the caller's earlier work in the transaction intact.
- Audit snapshots never hold a full ID number (masked) and summarize OCR text and fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from config.errors import DossierError, ErrorCode
from config.taxonomy import Taxonomy, load_taxonomy
from models.audit import SYSTEM_ACTOR, AuditEvent
from models.customer import (
    Contact,
    ContactCreate,
    Customer,
    CustomerCodeCounter,
    CustomerCreate,
    CustomerStatus,
    CustomerUpdate,
    validate_customer_values,
)
from models.db import utcnow
from models.document import (
    UPDATABLE_FIELDS,
    Document,
    DocumentCreate,
    DocumentStatus,
    check_document_status,
    check_document_type,
    check_json_fields,
    check_reasons,
    has_anomaly,
)
from models.runs import IngestRun, RunStatus
from models.user import ROLE_VALUES, User
from models.validation import ValidationError, field_label, mask_id_number

#: Customer codes use the calendar month in China (UTC+8, no daylight saving time).
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
CUSTOMER_CODE_PREFIX = "CUS"

#: A document "in effect" for its customer and type (see current_document_of_type).
CURRENT_STATUSES = (DocumentStatus.ARCHIVED.value, DocumentStatus.UPDATING.value)


class NotFoundError(DossierError):
    """A record that should exist does not."""

    code = ErrorCode.NOT_FOUND


class ConflictError(DossierError):
    """A unique value (USCC, ID number, username) already belongs to another record."""

    code = ErrorCode.CONFLICT

    def __init__(self, message: str, *, field: str, existing: str | None = None) -> None:
        super().__init__(message, field=field, existing=existing)
        self.field = field
        self.existing = existing


# --- helpers ----------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):  # money (元): exact, as text
        return str(value)
    return value


def _audit_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "id_number":
        return mask_id_number(str(value))
    if name == "ocr_text":
        return f"<{len(str(value))} characters>"
    if name == "fields" and isinstance(value, Mapping):
        return {"keys": sorted(value)}
    return _json_value(value)


def _snapshot(obj: Any, names: Sequence[str]) -> dict[str, Any]:
    return {name: _audit_value(name, getattr(obj, name)) for name in names}


@contextmanager
def _atomic(session: Session) -> Iterator[None]:
    """Run writes in a savepoint: on any error they are undone, earlier work is kept."""
    savepoint = session.begin_nested()
    try:
        yield
        session.flush()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    else:
        savepoint.commit()


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# --- audit ------------------------------------------------------------------------------------


def add_audit_event(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Append one audit event (flushed, not committed).

    Args:
        session: The session whose transaction the event joins.
        actor: A username, or ``"system"`` for automatic changes.
        action: What happened, e.g. ``"customer.create"``.
        entity_type: ``"customer"``, ``"document"``, ``"user"``, ...
        entity_id: The entity's id or code.
        before: Changed fields before the change (JSON-serializable).
        after: Changed fields after the change.
        detail: Free text for people.

    Returns:
        The new event.
    """
    event = AuditEvent(
        actor=actor or SYSTEM_ACTOR,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        detail=detail,
    )
    session.add(event)
    session.flush()
    return event


def list_audit_events(
    session: Session,
    *,
    entity_type: str | None = None,
    entity_id: str | int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Audit events, oldest first, optionally for one entity."""
    query = select(AuditEvent)
    if entity_type is not None:
        query = query.where(AuditEvent.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == str(entity_id))
    return list(session.exec(query.order_by(col(AuditEvent.id)).limit(limit)).all())


# --- users ------------------------------------------------------------------------------------


def get_user(session: Session, *, username: str) -> User | None:
    """The user with this username, or None."""
    return session.exec(select(User).where(User.username == username)).first()


def ensure_user(
    session: Session,
    *,
    username: str,
    role: str = "sales",
    display_name: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> User:
    """Return the user called ``username``, creating it (audited) when missing.

    An existing user is returned unchanged, whatever ``role`` says.

    Raises:
        ValidationError: Empty username or unknown role.
    """
    username = (username or "").strip()
    if not username:
        raise ValidationError("用户名不能为空", field="username", reason="required")
    if role not in ROLE_VALUES:
        raise ValidationError(f"角色“{role}”无效", field="role", reason="option_unknown")
    existing = get_user(session, username=username)
    if existing is not None:
        return existing
    with _atomic(session):
        user = User(username=username, role=role, display_name=display_name or username)
        session.add(user)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="user.create",
            entity_type="user",
            entity_id=username,
            after={"username": username, "role": role, "display_name": user.display_name},
        )
    return user


# --- customers --------------------------------------------------------------------------------

CUSTOMER_AUDIT_FIELDS = (
    "code",
    "name",
    "customer_type",
    "uscc",
    "id_number",
    "legal_representative",
    "established_date",
    "contact_person",
    "phone",
    "email",
    "address",
    "industry",
    "scale",
    "region",
    "source_channel",
    "level",
    "status",
    "owner_id",
    "notes",
)


def _bump_counter(session: Session, period: str) -> int:
    table = CustomerCodeCounter.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
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
        with _atomic(session):
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
                after=_snapshot(customer, CUSTOMER_AUDIT_FIELDS),
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
    given = changes.model_dump(exclude_unset=True)
    current = {name: getattr(customer, name) for name in CustomerCreate.model_fields}
    if from_document and customer.status == CustomerStatus.PROSPECT.value:
        checked, _dropped = validate_customer_values(
            {**current, **given}, taxonomy=taxonomy, from_document=True
        )
        new_values = {**current, **{k: checked.get(k) for k in given if k in checked}}
    else:
        merged = CustomerCreate.model_validate({**current, **given}, context={"taxonomy": taxonomy})
        new_values = merged.model_dump()
    changed = [n for n, v in new_values.items() if getattr(customer, n) != v]
    if not changed:
        return customer
    _check_owner(session, new_values.get("owner_id"))
    _check_unique_ids(session, new_values, exclude_id=customer.id)
    before = _snapshot(customer, changed)
    try:
        with _atomic(session):
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
                after=_snapshot(customer, changed),
            )
    except IntegrityError as e:
        session.refresh(customer)
        raise _conflict_from_integrity(e) from e
    return customer


def add_contact(
    session: Session,
    *,
    customer_code: str,
    data: ContactCreate | Mapping[str, Any],
    actor: str,
) -> Contact:
    """Add a contact person to a customer.

    Raises:
        NotFoundError: No customer with this code.
        ValidationError: Missing name, invalid phone or e-mail.
    """
    if not isinstance(data, ContactCreate):
        data = ContactCreate.model_validate(dict(data))
    customer = _require_customer(session, customer_code)
    with _atomic(session):
        contact = Contact(customer_id=customer.id, **data.model_dump())  # type: ignore[arg-type]
        session.add(contact)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="contact.create",
            entity_type="contact",
            entity_id=contact.id or "",
            after={"customer": customer.code, **data.model_dump()},
        )
    return contact


def list_contacts(session: Session, *, customer_id: int) -> list[Contact]:
    """A customer's contacts, primary first."""
    query = (
        select(Contact)
        .where(Contact.customer_id == customer_id)
        .order_by(col(Contact.is_primary).desc(), col(Contact.id))
    )
    return list(session.exec(query).all())


# --- documents --------------------------------------------------------------------------------

DOCUMENT_AUDIT_FIELDS = (
    "customer_id",
    "document_type",
    "status",
    "submitted_date",
    "original_filename",
    "original_key",
    "original_sha256",
    "pdf_key",
    "pdf_sha256",
    "page_count",
    "review_reasons",
    "supersedes_id",
    "ingest_run_id",
)


def _check_document_refs(session: Session, values: Mapping[str, Any]) -> None:
    customer_id = values.get("customer_id")
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise ValidationError("关联的客户不存在", field="customer_id", reason="not_found")
    supersedes_id = values.get("supersedes_id")
    if supersedes_id is not None and session.get(Document, supersedes_id) is None:
        raise ValidationError("被替换的资料不存在", field="supersedes_id", reason="not_found")


def create_document(
    session: Session,
    *,
    data: DocumentCreate | Mapping[str, Any],
    actor: str,
    taxonomy: Taxonomy | None = None,
) -> Document:
    """Record a document (its objects must already be stored and verified).

    A new version passes ``supersedes_id``; marking the old one ``superseded`` is the
    caller's decision (``update_document``), typically when the new one is archived.

    Raises:
        ValidationError: A value is missing or invalid, or a referenced row does not exist.
    """
    if not isinstance(data, DocumentCreate):
        data = DocumentCreate.model_validate(dict(data), context={"taxonomy": taxonomy})
    values = data.model_dump()
    _check_document_refs(session, values)
    with _atomic(session):
        stamp = utcnow()
        document = Document(
            **values,
            is_anomaly=has_anomaly(values["review_reasons"]),
            created_at=stamp,
            updated_at=stamp,
        )
        session.add(document)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="document.create",
            entity_type="document",
            entity_id=document.id or "",
            after=_snapshot(document, DOCUMENT_AUDIT_FIELDS),
        )
    return document


def get_document(session: Session, *, document_id: int) -> Document | None:
    """The document with this id, or None."""
    return session.get(Document, document_id)


def list_documents(
    session: Session,
    *,
    status: str | None = None,
    customer_id: int | None = None,
    document_type: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Document]:
    """Documents, newest first, optionally filtered."""
    query = select(Document)
    if status is not None:
        query = query.where(Document.status == status)
    if customer_id is not None:
        query = query.where(Document.customer_id == customer_id)
    if document_type is not None:
        query = query.where(Document.document_type == document_type)
    query = query.order_by(col(Document.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query).all())


def find_documents_by_sha256(session: Session, *, sha256: str) -> list[Document]:
    """Documents whose original or normalized PDF has this SHA-256 (duplicate detection)."""
    digest = sha256.strip().lower()
    query = (
        select(Document)
        .where(or_(Document.original_sha256 == digest, Document.pdf_sha256 == digest))
        .order_by(col(Document.id))
    )
    return list(session.exec(query).all())


def current_document_of_type(
    session: Session,
    *,
    customer_id: int,
    document_type: str,
    statuses: Sequence[str] = CURRENT_STATUSES,
) -> Document | None:
    """The newest document of a type in effect for a customer (archived or being updated)."""
    query = (
        select(Document)
        .where(
            Document.customer_id == customer_id,
            Document.document_type == document_type,
            col(Document.status).in_(list(statuses)),
        )
        .order_by(col(Document.id).desc())
    )
    return session.exec(query).first()


def _clean_document_changes(
    session: Session, changes: Mapping[str, Any], taxonomy: Taxonomy | None
) -> dict[str, Any]:
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"资料字段“{name}”不能修改", field=name, reason="not_updatable")
    out = dict(changes)
    if "status" in out:
        out["status"] = check_document_status(out["status"])
    if "document_type" in out:
        out["document_type"] = check_document_type(
            out["document_type"], taxonomy or load_taxonomy()
        )
    if "fields" in out:
        out["fields"] = check_json_fields(out["fields"])
    if "review_reasons" in out:
        out["review_reasons"] = check_reasons(out["review_reasons"])
    for name in ("claimed_at", "reviewed_at"):
        value = out.get(name)
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            raise ValidationError(f"{name} 应为带时区的时间", field=name, reason="datetime")
    _check_document_refs(session, out)
    return out


def update_document(
    session: Session,
    *,
    document_id: int,
    changes: Mapping[str, Any],
    actor: str,
    action: str = "document.update",
    detail: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> Document:
    """Change some columns of a document (see ``UPDATABLE_FIELDS``), audited as ``action``.

    Status transitions are not checked here; the review workflow in ``archive`` owns them.
    Changing ``review_reasons`` also sets the derived ``is_anomaly``.

    Raises:
        NotFoundError: No such document.
        ValidationError: An unknown or non-updatable column, or an invalid value.
    """
    document = get_document(session, document_id=document_id)
    if document is None:
        raise NotFoundError(f"资料 {document_id} 不存在", document_id=document_id)
    values = _clean_document_changes(session, changes, taxonomy)
    if "review_reasons" in values:  # the derived column follows its source
        values["is_anomaly"] = has_anomaly(values["review_reasons"])
    changed = [n for n, v in values.items() if getattr(document, n) != v]
    if not changed:
        return document
    before = _snapshot(document, changed)
    with _atomic(session):
        for name in changed:
            setattr(document, name, values[name])
        document.updated_at = utcnow()
        session.add(document)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action=action,
            entity_type="document",
            entity_id=document_id,
            before=before,
            after=_snapshot(document, changed),
            detail=detail,
        )
    return document


def document_versions(session: Session, *, document_id: int) -> list[Document]:
    """The version chain through a document, newest first (follows ``supersedes_id`` both ways).

    Raises:
        NotFoundError: No such document.
    """
    document = get_document(session, document_id=document_id)
    if document is None:
        raise NotFoundError(f"资料 {document_id} 不存在", document_id=document_id)
    newest = document
    seen = {document.id}
    while True:
        newer = session.exec(
            select(Document).where(Document.supersedes_id == newest.id).order_by(col(Document.id))
        ).first()
        if newer is None or newer.id in seen:
            break
        seen.add(newer.id)
        newest = newer
    chain = [newest]
    while chain[-1].supersedes_id is not None and chain[-1].supersedes_id not in {
        d.id for d in chain
    }:
        older = session.get(Document, chain[-1].supersedes_id)
        if older is None:
            break
        chain.append(older)
    return chain


# --- runs -------------------------------------------------------------------------------------


def start_ingest_run(
    session: Session,
    *,
    host: str | None = None,
    actor: str = SYSTEM_ACTOR,
    run_id: str | None = None,
) -> IngestRun:
    """Record the start of an ingest run (status ``running``)."""
    with _atomic(session):
        run = IngestRun(host=host, **({"id": run_id} if run_id else {}))
        session.add(run)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="ingest_run.start",
            entity_type="ingest_run",
            entity_id=run.id,
        )
    return run


def finish_ingest_run(
    session: Session,
    *,
    run_id: str,
    status: str = RunStatus.SUCCEEDED.value,
    counts: Mapping[str, int] | None = None,
    actor: str = SYSTEM_ACTOR,
) -> IngestRun:
    """Record the end of an ingest run with its counts.

    Raises:
        NotFoundError: No such run.
        ValidationError: Unknown status.
    """
    run = session.get(IngestRun, run_id)
    if run is None:
        raise NotFoundError(f"导入批次 {run_id} 不存在", run_id=run_id)
    if status not in {s.value for s in RunStatus}:
        raise ValidationError(f"状态“{status}”无效", field="status", reason="option_unknown")
    with _atomic(session):
        run.status = status
        run.counts = dict(counts or {})
        run.finished_at = datetime.now(UTC)
        session.add(run)
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="ingest_run.finish",
            entity_type="ingest_run",
            entity_id=run.id,
            after={"status": status, "counts": run.counts},
        )
    return run
