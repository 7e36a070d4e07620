"""Where a document's objects live, and how they get there: the one home of object placement.

Filing (a new document), review (a correction, a relink, a refile) and the integrity check and
repair all ask this module, so they cannot disagree about a key:

- :func:`expected_keys` / :func:`object_names`: the keys the naming rules give a document's PDF
  and original (without collision suffix), from its customer, type, date and original file name.
- :func:`archive.naming.matches_key`: whether a key is that key or a collision-suffixed variant
  (``-2``, ``-3`` ...), i.e. "in place".
- :func:`key_taken` / :func:`free_key`: a key is taken when another document's row uses it, or
  the store holds other bytes there; the first free ``key``, ``key-2`` ... is used.
- :func:`store_object`: put a new object verified (bytes a crashed run already stored are reused).
- :func:`plan_moves` / :func:`move_objects`: bring an existing document's objects to their keys,
  in the crash-safe order copy -> verify (sha256) -> database commit -> delete the old key.

A crash after the copy but before the commit leaves an extra object with identical bytes that no
row references; a crash after the commit leaves the old key (unreferenced, identical bytes)
behind. Either way every row points at a verified object, and the integrity check sees the
leftover as an orphan whose sha256 matches a document and can delete it safely.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import TypeVar

from sqlmodel import Session, col, select

from archive.errors import ObjectNotFoundError, StorageError
from archive.naming import MAX_KEY_BYTES, archive_key, first_free_key, matches_key, original_key
from archive.storage.base import ObjectInfo, ObjectStore, check_sha256
from config.taxonomy import Taxonomy, Templates
from models.customer import Customer
from models.document import Document

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Key pairs remembered (pure function): one per customer, type, day and extension.
KEY_CACHE_SIZE = 4096

#: The key column of each object kind.
KEY_COLUMNS = {"pdf": "pdf_key", "original": "original_key"}


@dataclass(frozen=True)
class ObjectNames:
    """The keys the naming rules give a document's objects (no collision suffix)."""

    pdf: str
    original: str


@dataclass(frozen=True)
class ObjectMove:
    """An object moved (or to be moved) from ``old_key`` to ``new_key``."""

    kind: str  # "pdf" or "original"; anything else (an orphan) changes no document column
    old_key: str
    new_key: str
    sha256: str


# --- expected keys ----------------------------------------------------------------------------


def original_extension(filename: str | None) -> str:
    """The extension an original's key keeps: the original file name's, lower case."""
    return PurePosixPath(filename or "").suffix.lower()


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def _keys(
    templates: Templates,
    customer_type_label: str | None,
    customer_name: str | None,
    document_type_label: str,
    submitted: date,
    ext: str,
    max_key_bytes: int,
) -> ObjectNames:
    names = {
        "templates": templates,
        "customer_type_label": customer_type_label,
        "customer_name": customer_name,
        "document_type_label": document_type_label,
        "submitted": submitted,
        "max_key_bytes": max_key_bytes,
    }
    return ObjectNames(archive_key(**names), original_key(**names, original_ext=ext))


def expected_keys(
    taxonomy: Taxonomy,
    *,
    customer_type: str | None,
    customer_name: str | None,
    document_type: str,
    submitted: date,
    original_filename: str | None,
    max_key_bytes: int = MAX_KEY_BYTES,
) -> ObjectNames:
    """Where the naming rules put a document's PDF and original.

    Args:
        taxonomy: Labels and naming templates.
        customer_type: The customer's type code; None for an unlinked document.
        customer_name: The customer's name; None for an unlinked document.
        document_type: The document type code.
        submitted: The submitted date.
        original_filename: The original file's name (its extension is kept).
        max_key_bytes: The store's key limit (``ObjectStore.max_key_bytes``).

    Raises:
        DossierError: Unknown type in the taxonomy, or a name that cannot become a key.
    """
    ctype = taxonomy.customer_type(customer_type).label if customer_type else None
    return _keys(
        taxonomy.templates,
        ctype,
        customer_name,
        taxonomy.document_type(document_type).label,
        submitted,
        original_extension(original_filename),
        max_key_bytes,
    )


def object_names(
    taxonomy: Taxonomy,
    *,
    customer: Customer | None,
    document_type: str,
    submitted: date,
    original_filename: str | None,
    max_key_bytes: int = MAX_KEY_BYTES,
) -> ObjectNames:
    """:func:`expected_keys` of a document linked to ``customer`` (None: unlinked)."""
    return expected_keys(
        taxonomy,
        customer_type=customer.customer_type if customer else None,
        customer_name=customer.name if customer else None,
        document_type=document_type,
        submitted=submitted,
        original_filename=original_filename,
        max_key_bytes=max_key_bytes,
    )


# --- collisions -------------------------------------------------------------------------------


def key_users(session: Session, key: str) -> list[int]:
    """Ids of the documents whose PDF or original is stored under ``key``."""
    statement = select(Document.id).where(
        (col(Document.pdf_key) == key) | (col(Document.original_key) == key)
    )
    return [i for i in session.exec(statement).all() if i is not None]


def key_taken(
    session: Session, store: ObjectStore, key: str, *, sha256: str, document_id: int | None = None
) -> bool:
    """Whether ``key`` is unusable for the bytes ``sha256`` of document ``document_id``.

    Taken: another document's row uses the key, or the store holds other bytes there (by the
    recorded digest, else re-hashed). Free: nothing there, or exactly these bytes (left by a
    crashed run: reused, never copied to a ``-2``).
    """
    if any(i != document_id for i in key_users(session, key)):
        return True
    try:
        info = store.head(key)
    except ObjectNotFoundError:
        return False
    return store.digest_of(info) != check_sha256(sha256)


def free_key(
    session: Session,
    store: ObjectStore,
    base: str,
    *,
    sha256: str,
    document_id: int | None = None,
) -> str:
    """``base``, or the first of ``base-2``, ``base-3`` ... that :func:`key_taken` allows.

    Raises:
        KeyCollisionError: Every suffix up to the limit is taken.
    """

    def taken(key: str) -> bool:
        return key_taken(session, store, key, sha256=sha256, document_id=document_id)

    return first_free_key(base, taken=taken)


# --- new objects ------------------------------------------------------------------------------


def _content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def store_object(store: ObjectStore, key: str, path: Path, *, sha256: str) -> ObjectInfo:
    """Put ``path`` under ``key``, verified against ``sha256``.

    Bytes a run that crashed before its commit already stored there are reused (by recorded
    digest, else re-hashed), never written again.
    """
    held = store.holding(key, sha256=sha256)
    if held is not None:
        return held
    return store.put(
        key, path, content_type=_content_type(path), metadata={"sha256": sha256}, sha256=sha256
    )


# --- moves ------------------------------------------------------------------------------------


def _planned(
    session: Session,
    store: ObjectStore,
    *,
    kind: str,
    current: str,
    base: str,
    sha256: str,
    document_id: int,
) -> list[ObjectMove]:
    if matches_key(current, base):
        return []
    new = free_key(session, store, base, sha256=sha256, document_id=document_id)
    return [ObjectMove(kind, current, new, sha256)]


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

    Keys already in place (the expected key or a collision-suffixed variant of it) are not
    moved; an original shared with other documents (one input file, several parts) is not
    moved either.
    """
    names = object_names(
        taxonomy,
        customer=customer,
        document_type=document_type,
        submitted=submitted,
        original_filename=document.original_filename,
        max_key_bytes=store.max_key_bytes,
    )
    me = document.id or 0
    moves: list[ObjectMove] = []
    if document.pdf_key and document.pdf_sha256:
        moves += _planned(
            session,
            store,
            kind="pdf",
            current=document.pdf_key,
            base=names.pdf,
            sha256=document.pdf_sha256,
            document_id=me,
        )
    shared = any(i != me for i in key_users(session, document.original_key or ""))
    if document.original_key and document.original_sha256 and not shared:
        moves += _planned(
            session,
            store,
            kind="original",
            current=document.original_key,
            base=names.original,
            sha256=document.original_sha256,
            document_id=me,
        )
    return moves


def key_changes(moves: Sequence[ObjectMove]) -> dict[str, str]:
    """The document columns the moves change: ``{"pdf_key": new, "original_key": new}``."""
    return {KEY_COLUMNS[m.kind]: m.new_key for m in moves if m.kind in KEY_COLUMNS}


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
        if key_users(session, move.old_key):
            continue  # still referenced (should not happen): keep it
        try:
            store.delete(move.old_key)
        except (StorageError, OSError) as e:
            log.warning(
                "old key %s left behind after a move (%s); integrity check repairs it",
                move.old_key,
                type(e).__name__,
            )


def move_objects(
    session: Session,
    store: ObjectStore,
    moves: Sequence[ObjectMove],
    *,
    record: Callable[[dict[str, str]], T],
) -> T:
    """Copy -> verify -> ``record`` and commit -> delete the old keys.

    ``record`` gets the key columns to change (:func:`key_changes`) and writes the row (with any
    other changes of the same decision); its result is returned. With no moves it still records
    and commits.

    Raises:
        StorageError: A copy failed or did not verify; the session is rolled back and the new
            copies are removed, nothing is changed.
    """
    _copy_verified(store, moves)
    try:
        result = record(key_changes(moves))
        session.commit()
    except BaseException:
        session.rollback()
        _discard_copies(store, moves)
        raise
    _delete_old(session, store, moves)
    return result


__all__ = [
    "KEY_COLUMNS",
    "ObjectMove",
    "ObjectNames",
    "expected_keys",
    "free_key",
    "key_changes",
    "key_taken",
    "key_users",
    "move_objects",
    "object_names",
    "original_extension",
    "plan_moves",
    "store_object",
]
