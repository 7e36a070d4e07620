"""Tags (标签): the vocabulary, tagging customers, filtering by tags, and the tag report.

Plain functions taking ``session``, ``settings`` and ``actor``; the caller commits.

- Admins (``Action.MANAGE_TAXONOMY``) add, rename, merge and retire tags; everyone sees the list.
- Anyone who sees a customer may tag it with active tags from the vocabulary, at most five.
- :func:`tag_filter` is a SQL condition on ``Customer``: has every one of the named tags.
- :func:`tag_report` (reviewers and admins): tags used by under 5% of customers, and customers
  whose tags contradict their fields (tag 成交客户 on a 流失客户; a tag naming an option of a
  field - status, type, industry, scale, region, level, source, tier - while the customer's
  value of that field is another option).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from archive.customers import get_visible
from archive.permissions import Action, PermissionDeniedError, require, sees_everything
from archive.tiers import tier_thresholds
from config.settings import Settings
from models import repo
from models.customer import Customer
from models.tag import CustomerTag, Tag, validate_tag_name
from models.user import User

#: A tag used by fewer than this share of all customers is listed for review.
RARE_SHARE = Decimal("0.05")
#: Customer fields whose options a tag may name (besides status and customer type).
_OPTION_FIELDS = ("industry", "scale", "region", "level", "source_channel")


def list_tags(session: Session, *, include_retired: bool = True) -> list[tuple[Tag, int]]:
    """Every tag with the number of customers that have it, by name."""
    return repo.list_tags(session, include_retired=include_retired)


def tag_names(session: Session, *, include_retired: bool = True) -> list[str]:
    """Every tag's name, by name, without counting customers (filters and pickers: cheap)."""
    query = select(Tag.name).order_by(col(Tag.name))
    if not include_retired:
        query = query.where(col(Tag.is_retired).is_(False))
    return list(session.exec(query).all())


def add_tag(session: Session, actor: User, name: str, description: str | None = None) -> Tag:
    """Add a tag to the vocabulary (admins).

    Raises:
        PermissionDeniedError, ValidationError, ConflictError.
    """
    require(actor, Action.MANAGE_TAXONOMY)
    return repo.create_tag(session, name=name, description=description, actor=actor.username)


def rename_tag(session: Session, actor: User, name: str, new_name: str) -> Tag:
    """Rename a tag (admins); customers keep it.

    Raises:
        PermissionDeniedError, NotFoundError, ValidationError, ConflictError.
    """
    require(actor, Action.MANAGE_TAXONOMY)
    tag = repo.require_tag(session, name=name)
    return repo.rename_tag(session, tag=tag, new_name=new_name, actor=actor.username)


def merge_tags(session: Session, actor: User, source: str, target: str) -> tuple[Tag, int]:
    """Merge tag ``source`` into ``target`` (admins): its customers get ``target``; it is deleted.

    Returns:
        The target tag and the number of customers moved to it.
    """
    require(actor, Action.MANAGE_TAXONOMY)
    src = repo.require_tag(session, name=source)
    dst = repo.require_tag(session, name=target)
    moved = repo.merge_tags(session, source=src, target=dst, actor=actor.username)
    return dst, moved


def retire_tag(session: Session, actor: User, name: str, *, retired: bool = True) -> Tag:
    """Retire a tag (admins): customers keep it, nobody can give it any more (``retired=False``
    brings it back)."""
    require(actor, Action.MANAGE_TAXONOMY)
    tag = repo.require_tag(session, name=name)
    return repo.set_tag_retired(session, tag=tag, retired=retired, actor=actor.username)


def customer_tags(session: Session, actor: User, code: str) -> list[Tag]:
    """The tags of a customer ``actor`` may see, by name."""
    customer = get_visible(session, actor, code)
    return repo.customer_tags(session, customer_id=customer.id)  # type: ignore[arg-type]


def tag_customer(session: Session, actor: User, code: str, names: Iterable[str]) -> list[str]:
    """Give a customer tags from the vocabulary; returns the names added.

    Raises:
        NotFoundError: The customer is not visible, or a tag does not exist.
        ValidationError: A retired tag, or more than five tags in all (nothing is written).
    """
    customer = get_visible(session, actor, code)
    tags = [repo.require_tag(session, name=n) for n in names]
    return repo.tag_customer(session, customer=customer, tags=tags, actor=actor.username)


def untag_customer(session: Session, actor: User, code: str, names: Iterable[str]) -> list[str]:
    """Take tags off a customer; returns the names removed."""
    customer = get_visible(session, actor, code)
    tags = [repo.require_tag(session, name=n) for n in names]
    return repo.untag_customer(session, customer=customer, tags=tags, actor=actor.username)


def tag_filter(session: Session, names: Sequence[str]) -> sa.ColumnElement[bool]:
    """SQL condition on ``Customer``: has every tag in ``names`` (an unknown tag: nothing).

    Example:
        ``select(Customer).where(tag_filter(session, ["制造业", "高价值"]))``
    """
    wanted = {validate_tag_name(n) for n in names}
    if not wanted:
        return sa.true()
    ids = session.exec(select(Tag.id).where(col(Tag.name).in_(wanted))).all()
    if len(ids) != len(wanted):
        return sa.false()
    return repo.customers_with_all_tags([i for i in ids if i is not None])


@dataclass
class TagReport:
    """What :func:`tag_report` finds."""

    total_customers: int
    rare: list[dict[str, object]] = field(default_factory=list)
    contradictions: list[dict[str, object]] = field(default_factory=list)


def _field_options(settings: Settings) -> dict[str, dict[str, str]]:
    """For each field a tag may contradict: option label -> stored value."""
    taxonomy = settings.taxonomy
    out = {
        "status": {label: code for code, label in taxonomy.customer_statuses.items()},
        "customer_type": {t.label: t.code for t in taxonomy.customer_types},
        "value_tier": {tier: tier for tier, _ in tier_thresholds(settings)},
    }
    for name in _OPTION_FIELDS:
        out[name] = {v: v for v in taxonomy.options.get(name, ())}
    return out


def _contradiction(
    customer: Customer, tag: str, options: dict[str, dict[str, str]]
) -> dict[str, object] | None:
    fields = [f for f, labels in options.items() if tag in labels]
    if any(getattr(customer, f) == options[f][tag] for f in fields):
        return None
    for name in fields:
        value = getattr(customer, name)
        if value is not None:
            return {
                "customer": customer.code,
                "name": customer.name,
                "tag": tag,
                "field": name,
                "value": value,
            }
    return None


def tag_report(session: Session, settings: Settings, actor: User) -> TagReport:
    """Rarely used tags (< 5% of customers) and tags that contradict customers' fields.

    Raises:
        PermissionDeniedError: A sales user (the report covers every customer).
    """
    if not sees_everything(actor):
        raise PermissionDeniedError(
            "没有权限：标签报告", action="tag_report", username=actor.username, role=actor.role
        )
    total = session.exec(select(func.count()).select_from(Customer)).one()
    report = TagReport(total_customers=int(total))
    for tag, used in repo.list_tags(session, include_retired=False):
        share = Decimal(used) / Decimal(total) if total else Decimal(0)
        if share < RARE_SHARE:
            report.rare.append({"tag": tag.name, "customers": used, "share": float(share)})
    options = _field_options(settings)
    names = {label for labels in options.values() for label in labels}
    rows = session.exec(
        select(Customer, Tag.name)
        .join(CustomerTag, col(CustomerTag.customer_id) == Customer.id)
        .join(Tag, col(Tag.id) == CustomerTag.tag_id)
        .where(col(Tag.name).in_(names))
        .order_by(col(Customer.code), col(Tag.name))
    ).all()
    for customer, tag_name in rows:
        found = _contradiction(customer, tag_name, options)
        if found is not None:
            report.contradictions.append(found)
    return report
