"""Merging duplicate customers (issue 15, item 9): one record is kept, the other folded in.

Admins (``Action.MERGE_CUSTOMERS``) merge two customers of the same type. In one transaction
the duplicate's documents, contacts, follow-ups, cooperation records and tags move to the kept
record and the duplicate is deleted (its every field stays in the audit event); the kept
record's totals, tier and level are refreshed. Then each moved document is refiled through the
review module's copy -> verify -> commit -> delete (``archive.review.refile``), so its objects
sit under the kept customer's name and the integrity check stays clean. A refile that fails
(storage down) leaves the document linked, at its old key: ``dossier check`` reports the key
drift and ``refile`` can be run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from archive.customers import get_visible
from archive.errors import StorageError
from archive.permissions import Action, require
from archive.review import ObjectMove, refile
from archive.storage import ObjectStore
from archive.tiers import refresh_customer
from config.settings import Settings
from models.customer import Customer
from models.repo import ValidationError
from models.repo.base import lock_row
from models.repo.merge import MovedRows, merge_customer_into
from models.user import User


@dataclass
class MergeResult:
    """What a merge did."""

    kept: Customer
    removed_code: str
    moved: MovedRows
    object_moves: list[ObjectMove] = field(default_factory=list)
    refile_failed: list[int] = field(default_factory=list)


def merge_customers(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    actor: User,
    *,
    keep: str,
    remove: str,
) -> MergeResult:
    """Fold customer ``remove`` into ``keep`` (commits; refiles the moved documents).

    Raises:
        PermissionDeniedError: Not an admin.
        NotFoundError: Either customer does not exist.
        ValidationError: The same customer twice, or customers of different types.
    """
    require(actor, Action.MERGE_CUSTOMERS)
    kept = get_visible(session, actor, keep)
    duplicate = get_visible(session, actor, remove)
    if kept.id == duplicate.id:
        raise ValidationError("合并客户：不能与自身合并", field="remove", reason="same_customer")
    if kept.customer_type != duplicate.customer_type:
        raise ValidationError(
            "合并客户：客户类型不同，不能合并", field="remove", reason="type_mismatch"
        )
    kept = lock_row(session, Customer, kept.id)  # type: ignore[arg-type]
    duplicate = lock_row(session, Customer, duplicate.id)  # type: ignore[arg-type]
    removed_code = duplicate.code
    moved = merge_customer_into(session, kept=kept, duplicate=duplicate, actor=actor.username)
    refresh_customer(session, settings, kept, actor=actor.username, detail=f"合并 {removed_code}")
    session.commit()
    result = MergeResult(kept=kept, removed_code=removed_code, moved=moved)
    for document_id in moved.documents:
        try:
            result.object_moves += refile(
                session,
                store,
                document_id=document_id,
                taxonomy=settings.taxonomy,
                actor=actor.username,
            )
        except StorageError:
            session.rollback()
            result.refile_failed.append(document_id)
    session.refresh(kept)
    return result
