"""The tag vocabulary and the tags of customers (at most five each), every change audited."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from models.customer import Customer
from models.db import utcnow
from models.errors import ConflictError, NotFoundError, ValidationError
from models.repo.audit import add_audit_event
from models.repo.base import atomic, lock_row
from models.tag import MAX_TAGS_PER_CUSTOMER, CustomerTag, Tag, validate_tag_name


def get_tag(session: Session, *, name: str) -> Tag | None:
    """The tag with this name (normalized like :func:`validate_tag_name`), or None."""
    return session.exec(select(Tag).where(Tag.name == validate_tag_name(name))).first()


def require_tag(session: Session, *, name: str) -> Tag:
    """The tag with this name.

    Raises:
        NotFoundError: ``标签“X”不存在``.
    """
    tag = get_tag(session, name=name)
    if tag is None:
        raise NotFoundError(f"标签“{name}”不存在", tag=name)
    return tag


def _check_free(session: Session, name: str, exclude_id: int | None = None) -> None:
    other = session.exec(select(Tag).where(Tag.name == name)).first()
    if other is not None and other.id != exclude_id:
        raise ConflictError(f"标签名称：“{name}”已存在", field="name", existing=name)


def _audit(session: Session, actor: str, action: str, tag: Tag, **kw: object) -> None:
    add_audit_event(
        session, actor=actor, action=action, entity_type="tag", entity_id=tag.id or "", **kw
    )  # type: ignore[arg-type]


def create_tag(session: Session, *, name: str, actor: str, description: str | None = None) -> Tag:
    """Add a tag to the vocabulary.

    Raises:
        ValidationError: A bad name. ConflictError: The name exists.
    """
    clean = validate_tag_name(name)
    _check_free(session, clean)
    try:
        with atomic(session):
            tag = Tag(name=clean, description=description, created_by=actor, updated_by=actor)
            session.add(tag)
            session.flush()
            after = {"name": clean, "description": description}
            _audit(session, actor, "tag.create", tag, after=after)
    except IntegrityError as e:  # the same name added at the same moment
        raise ConflictError(f"标签名称：“{clean}”已存在", field="name", existing=clean) from e
    return tag


def rename_tag(session: Session, *, tag: Tag, new_name: str, actor: str) -> Tag:
    """Rename a tag (customers keep it under the new name).

    Raises:
        ValidationError: A bad name. ConflictError: Another tag has the name.
    """
    clean = validate_tag_name(new_name)
    if clean == tag.name:
        return tag
    _check_free(session, clean, exclude_id=tag.id)
    before = {"name": tag.name}
    try:
        with atomic(session):
            tag.name, tag.updated_by, tag.updated_at = clean, actor, utcnow()
            session.add(tag)
            session.flush()
            _audit(session, actor, "tag.rename", tag, before=before, after={"name": clean})
    except IntegrityError as e:  # another tag took the name at the same moment
        session.refresh(tag)
        raise ConflictError(f"标签名称：“{clean}”已存在", field="name", existing=clean) from e
    return tag


def set_tag_retired(session: Session, *, tag: Tag, retired: bool, actor: str) -> Tag:
    """Retire a tag (no new customers get it) or bring it back."""
    if tag.is_retired == retired:
        return tag
    with atomic(session):
        tag.is_retired, tag.updated_by, tag.updated_at = retired, actor, utcnow()
        session.add(tag)
        session.flush()
        _audit(
            session,
            actor,
            "tag.retire" if retired else "tag.restore",
            tag,
            before={"is_retired": not retired},
            after={"is_retired": retired},
        )
    return tag


def merge_tags(session: Session, *, source: Tag, target: Tag, actor: str) -> int:
    """Give every customer of ``source`` the ``target`` tag instead, then delete ``source``.

    A customer never gains a tag by a merge (one replaces the other), so the limit of five holds.

    Returns:
        The number of customers moved to ``target`` (those that had only ``source``).
    """
    if source.id == target.id:
        raise ValidationError("标签合并：不能与自身合并", field="target", reason="same_tag")
    link = CustomerTag.__table__  # type: ignore[attr-defined]
    has_target = select(CustomerTag.customer_id).where(CustomerTag.tag_id == target.id)
    customers = [
        code
        for code in session.exec(
            select(Customer.code)
            .join(CustomerTag, col(CustomerTag.customer_id) == Customer.id)
            .where(CustomerTag.tag_id == source.id)
            .order_by(Customer.code)
        ).all()
    ]
    with atomic(session):
        session.execute(
            sa.delete(link).where(
                link.c.tag_id == source.id, link.c.customer_id.in_(has_target.scalar_subquery())
            )
        )
        moved = session.execute(
            sa.update(link).where(link.c.tag_id == source.id).values(tag_id=target.id)
        ).rowcount
        before = {"source": source.name, "target": target.name, "customers": customers}
        _audit(session, actor, "tag.merge", target, before=before, after={"name": target.name})
        _audit(session, actor, "tag.delete", source, before={"name": source.name})
        session.execute(sa.delete(Tag).where(col(Tag.id) == source.id))
    session.expunge(source)
    return int(moved or 0)


def list_tags(session: Session, *, include_retired: bool = True) -> list[tuple[Tag, int]]:
    """Every tag with the number of customers that have it, by name."""
    count = (
        select(func.count())
        .select_from(CustomerTag)
        .where(col(CustomerTag.tag_id) == Tag.id)
        .scalar_subquery()
    )
    query = select(Tag, count).order_by(col(Tag.name))
    if not include_retired:
        query = query.where(col(Tag.is_retired).is_(False))
    return [(tag, int(n)) for tag, n in session.exec(query).all()]


def customer_tags(session: Session, *, customer_id: int) -> list[Tag]:
    """A customer's tags, by name."""
    query = (
        select(Tag)
        .join(CustomerTag, col(CustomerTag.tag_id) == Tag.id)
        .where(CustomerTag.customer_id == customer_id)
        .order_by(col(Tag.name))
    )
    return list(session.exec(query).all())


def tag_customer(
    session: Session, *, customer: Customer, tags: Sequence[Tag], actor: str
) -> list[str]:
    """Give ``customer`` the tags it does not have yet; returns the names added.

    The customer row is locked first, so concurrent taggers cannot pass the limit together.

    Raises:
        ValidationError: A retired tag, or more than five tags in all (nothing is written).
    """
    lock_row(session, Customer, customer.id)  # type: ignore[arg-type]
    current = customer_tags(session, customer_id=customer.id)  # type: ignore[arg-type]
    have = {t.id for t in current}
    new = list({t.id: t for t in tags if t.id not in have}.values())
    for tag in new:
        if tag.is_retired:
            raise ValidationError(
                f"标签：“{tag.name}”已停用，不能再使用", field="tags", reason="tag_retired"
            )
    if len(current) + len(new) > MAX_TAGS_PER_CUSTOMER:
        raise ValidationError(
            f"标签：每个客户最多{MAX_TAGS_PER_CUSTOMER}个标签（已有{len(current)}个）",
            field="tags",
            reason="too_many_tags",
        )
    if not new:
        return []
    before = [t.name for t in current]
    with atomic(session):
        for tag in new:
            session.add(CustomerTag(customer_id=customer.id, tag_id=tag.id, created_by=actor))  # type: ignore[arg-type]
        session.flush()
        add_audit_event(
            session,
            actor=actor,
            action="customer.tag",
            entity_type="customer",
            entity_id=customer.code,
            before={"tags": before},
            after={"tags": sorted([*before, *(t.name for t in new)])},
        )
    return [t.name for t in new]


def untag_customer(
    session: Session, *, customer: Customer, tags: Sequence[Tag], actor: str
) -> list[str]:
    """Take tags off ``customer``; returns the names removed."""
    current = customer_tags(session, customer_id=customer.id)  # type: ignore[arg-type]
    ids = {t.id for t in tags}
    gone = [t for t in current if t.id in ids]
    if not gone:
        return []
    link = CustomerTag.__table__  # type: ignore[attr-defined]
    with atomic(session):
        session.execute(
            sa.delete(link).where(
                link.c.customer_id == customer.id, link.c.tag_id.in_([t.id for t in gone])
            )
        )
        add_audit_event(
            session,
            actor=actor,
            action="customer.untag",
            entity_type="customer",
            entity_id=customer.code,
            before={"tags": [t.name for t in current]},
            after={"tags": [t.name for t in current if t.id not in ids]},
        )
    return [t.name for t in gone]


def customers_with_all_tags(tag_ids: Sequence[int]) -> sa.ColumnElement[bool]:
    """SQL condition on :class:`Customer`: has every one of ``tag_ids``.

    One ``EXISTS`` per tag, each a primary-key probe of ``customer_tag``: a list page walking
    its sort index stops after a page of matches instead of first collecting every tagged
    customer (bench/customers.py: one tag, p95 149 -> see docs/benchmarks.md).
    """
    ids = sorted(set(tag_ids))
    return sa.and_(
        sa.true(),
        *(
            sa.exists().where(
                col(CustomerTag.customer_id) == col(Customer.id), col(CustomerTag.tag_id) == i
            )
            for i in ids
        ),
    )


def tag_names_by_customer(session: Session, *, customer_ids: Sequence[int]) -> dict[int, list[str]]:
    """The tag names of many customers at once (for a list page): id -> names by name."""
    out: dict[int, list[str]] = {i: [] for i in customer_ids}
    if not customer_ids:
        return out
    rows = session.exec(
        select(CustomerTag.customer_id, Tag.name)
        .join(Tag, col(Tag.id) == CustomerTag.tag_id)
        .where(col(CustomerTag.customer_id).in_(list(customer_ids)))
        .order_by(col(Tag.name))
    ).all()
    for customer_id, name in rows:
        out[int(customer_id)].append(str(name))
    return out
