"""Who may do what: roles (销售专员 sales, 审核人 reviewer, 管理员 admin) and row visibility.

One table (:data:`ROLE_ACTIONS`) says which role may perform which action; :func:`require`
enforces it. Visibility of rows is a SQL condition (:func:`visible_customer_filter`,
:func:`visible_document_filter`) so that lists, counts and searches are filtered in the
database, and a Python twin (:func:`can_view_customer`, :func:`can_view_document`) for a
single record. Sales staff see only customers they own (``customer.owner_id``) and their
documents, plus unlinked documents they submitted themselves; reviewers and admins see all.
A disabled user may do nothing and sees nothing.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import col, select

from archive.errors import PermissionDeniedError
from models.customer import Customer
from models.document import Document
from models.user import Role, User


class Action(StrEnum):
    """Things a user may be allowed to do."""

    VIEW = "view"  # see customers/documents (within visibility)
    UPLOAD = "upload"  # put files into the intake
    REVIEW = "review"  # claim, approve, reject, correct, relink
    VIEW_AUDIT = "view_audit"  # read the audit trail
    MANAGE_USERS = "manage_users"  # add users, change roles, disable
    MANAGE_TAXONOMY = "manage_taxonomy"  # edit types, option lists, templates
    MERGE_CUSTOMERS = "merge_customers"  # merge a duplicate customer into another


_ALL = frozenset(Action)

#: The permission table: role -> allowed actions.
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.SALES.value: frozenset({Action.VIEW, Action.UPLOAD}),
    Role.REVIEWER.value: frozenset({Action.VIEW, Action.UPLOAD, Action.REVIEW, Action.VIEW_AUDIT}),
    Role.ADMIN.value: _ALL,
}

_ACTION_LABELS = {
    Action.VIEW: "查看资料",
    Action.UPLOAD: "上传资料",
    Action.REVIEW: "审核资料",
    Action.VIEW_AUDIT: "查看审计记录",
    Action.MANAGE_USERS: "管理用户",
    Action.MANAGE_TAXONOMY: "管理分类与选项",
    Action.MERGE_CUSTOMERS: "合并重复客户",
}


def can(user: User, action: Action | str) -> bool:
    """Whether ``user`` (active) may perform ``action``."""
    if not user.is_active:
        return False
    return Action(action) in ROLE_ACTIONS.get(user.role, frozenset())


def require(user: User, action: Action | str) -> None:
    """Raise unless ``user`` may perform ``action``.

    Args:
        user: The acting user.
        action: An :class:`Action` (or its string value).

    Raises:
        PermissionDeniedError: Disabled user, or a role without this action (code
            ``permission_denied``).
    """
    if not can(user, action):
        label = _ACTION_LABELS.get(Action(action), str(action))
        raise PermissionDeniedError(
            f"没有权限：{label}", action=str(action), username=user.username, role=user.role
        )


def sees_everything(user: User) -> bool:
    """Reviewers and admins see every customer and document; sales do not."""
    return user.is_active and user.role in (Role.REVIEWER.value, Role.ADMIN.value)


def can_view_customer(user: User, customer: Customer | None) -> bool:
    """Whether ``user`` may see ``customer`` (None, i.e. no customer, is visible to all)."""
    if not user.is_active:
        return False
    if customer is None or sees_everything(user):
        return True
    return customer.owner_id is not None and customer.owner_id == user.id


def can_view_document(user: User, document: Document, customer: Customer | None) -> bool:
    """Whether ``user`` may see ``document`` linked to ``customer`` (None when unlinked).

    Sales see documents of customers they own, and unlinked documents they submitted.
    """
    if not user.is_active:
        return False
    if sees_everything(user):
        return True
    if customer is None:
        return document.customer_id is None and document.submitted_by == user.username
    return can_view_customer(user, customer)


def visible_customer_filter(user: User) -> sa.ColumnElement[bool]:
    """SQL condition on :class:`Customer` rows the user may see.

    Example:
        ``select(Customer).where(visible_customer_filter(user))``
    """
    if not user.is_active:
        return sa.false()
    if sees_everything(user):
        return sa.true()
    return col(Customer.owner_id) == user.id


def visible_document_filter(user: User) -> sa.ColumnElement[bool]:
    """SQL condition on :class:`Document` rows the user may see (no join needed).

    Example:
        ``select(Document).where(visible_document_filter(user))``
    """
    if not user.is_active:
        return sa.false()
    if sees_everything(user):
        return sa.true()
    owned = select(Customer.id).where(col(Customer.owner_id) == user.id)
    return sa.or_(
        col(Document.customer_id).in_(owned.scalar_subquery()),
        sa.and_(
            col(Document.customer_id).is_(None),
            col(Document.submitted_by) == user.username,
        ),
    )


__all__ = [
    "ROLE_ACTIONS",
    "Action",
    "PermissionDeniedError",
    "can",
    "can_view_customer",
    "can_view_document",
    "require",
    "sees_everything",
    "visible_customer_filter",
    "visible_document_filter",
]
