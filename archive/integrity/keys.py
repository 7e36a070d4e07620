"""Where a document's objects belong, as the integrity check and repair ask it: every answer
comes from :mod:`archive.placement` (expected keys, whether a key is taken, moves) and
:func:`archive.naming.matches_key` (the collision-suffix matcher), the same functions filing
and review use, so the check never calls drifted what filing or a correction placed.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from archive import placement
from archive.integrity.findings import Finding, RepairAction
from archive.integrity.rows import DocRow
from archive.naming import MAX_KEY_BYTES, matches_key
from archive.storage.base import ObjectStore
from config.taxonomy import Taxonomy
from models import repo

#: Expected-key pairs remembered (naming is pure; about 0.4 ms per document uncached).
KEY_CACHE_SIZE = placement.KEY_CACHE_SIZE

#: ``actual`` is ``expected`` or ``expected`` with a collision suffix: the one matcher.
matches_expected_key = matches_key


def expected_keys(
    row: DocRow, taxonomy: Taxonomy, *, max_key_bytes: int = MAX_KEY_BYTES
) -> tuple[str, str]:
    """Where the naming rules put this document's PDF and original, from its current fields.

    Results are cached per naming input (customer type and name, document type, date,
    extension, key limit): documents of one customer, type and day share them.

    Raises:
        DossierError: Unknown type in the taxonomy, or a name that cannot become a key.
    """
    names = placement.expected_keys(
        taxonomy,
        customer_type=row.customer_type,
        customer_name=row.customer_name,
        document_type=row.document_type,
        submitted=row.submitted_date,
        original_filename=row.original_filename,
        max_key_bytes=max_key_bytes,
    )
    return names.pdf, names.original


def _move_back(*, engine: Engine, store: ObjectStore, drift: Finding, actor: str) -> RepairAction:
    """Move a drifted object to its computed key (the first free slot), as review moves one:
    copy, verify, point the record there and commit, then delete the old key."""
    current = str(drift.object_key)
    sha = str(drift.detail.get("sha256") or store.sha256_of(current))
    document_id = int(drift.document_id or 0)
    with Session(engine) as session:
        target = placement.free_key(
            session, store, str(drift.detail["expected_key"]), sha256=sha, document_id=document_id
        )
        move = placement.ObjectMove(str(drift.detail.get("role")), current, target, sha)

        def record(keys: dict[str, str]) -> object:
            return repo.update_document(
                session,
                document_id=document_id,
                changes=keys,
                actor=actor,
                action="integrity.move_back",
                detail="对象已移回命名规则规定的位置",
            )

        placement.move_objects(session, store, [move], record=record)
    return RepairAction("move_back", current, target, drift.document_id, True, f"已移回 {target}")
