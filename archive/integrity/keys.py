"""Where a document's objects belong: expected keys, the collision-suffix matcher, whether a key
is taken, and moving a drifted object back (copy, verify, point the record there, delete).
"""

from __future__ import annotations

import functools
import re
from datetime import date
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from archive.integrity.findings import Finding, RepairAction
from archive.integrity.rows import DocRow
from archive.naming import archive_key, first_free_key, original_key, with_collision_suffix
from archive.storage.base import ObjectStore
from config.taxonomy import Taxonomy, Templates
from models import repo
from models.db import session_scope
from models.document import Document

#: Cached expected-key pairs (naming is pure; about 0.4 ms per document uncached).
KEY_CACHE_SIZE = 4096


def _suffix_pattern(expected: str) -> re.Pattern[str]:
    marker = 987654321
    before, _, after = with_collision_suffix(expected, marker).rpartition(str(marker))
    return re.compile(re.escape(before) + r"([1-9][0-9]*)" + re.escape(after))


def matches_expected_key(actual: str, expected: str) -> bool:
    """``actual`` is ``expected`` or ``expected`` with a collision suffix (``-2``, ``-3`` ...)."""
    if actual == expected:
        return True
    match = _suffix_pattern(expected).fullmatch(actual)
    return bool(match) and int(match.group(1)) >= 2


def expected_keys(row: DocRow, taxonomy: Taxonomy) -> tuple[str, str]:
    """Where the naming rules put this document's PDF and original, from its current fields.

    The naming functions are pure, so results are cached per naming input (customer type and
    name, document type, date, extension): documents of one customer, type and day share them.

    Raises:
        DossierError: Unknown type in the taxonomy, or a name that cannot become a key.
    """
    ctype = taxonomy.customer_type(row.customer_type).label if row.customer_type else None
    return _keys_for(
        taxonomy.templates,
        ctype,
        row.customer_name,
        taxonomy.document_type(row.document_type).label,
        row.submitted_date,
        PurePosixPath(row.original_filename).suffix.lower(),
    )


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def _keys_for(
    templates: Templates,
    customer_type_label: str | None,
    customer_name: str | None,
    document_type_label: str,
    submitted: date,
    ext: str,
) -> tuple[str, str]:
    names: dict[str, Any] = {
        "templates": templates,
        "customer_type_label": customer_type_label,
        "customer_name": customer_name,
        "document_type_label": document_type_label,
        "submitted": submitted,
    }
    return archive_key(**names), original_key(**names, original_ext=ext)


def _key_in_use(engine: Engine, key: str) -> bool:
    d = Document
    with Session(engine) as session:
        return (
            session.exec(
                select(d.id).where((col(d.pdf_key) == key) | (col(d.original_key) == key))
            ).first()
            is not None
        )


def _move_back(*, engine: Engine, store: ObjectStore, drift: Finding, actor: str) -> RepairAction:
    """Copy a drifted object to its computed key, verify, point the record there, delete it."""
    current = str(drift.object_key)
    sha = drift.detail.get("sha256")
    role = str(drift.detail.get("role"))

    def taken(key: str) -> bool:
        if key == current:
            return False
        if _key_in_use(engine, key):
            return True
        return store.exists(key) and store.head(key).sha256 != sha

    target = first_free_key(str(drift.detail["expected_key"]), taken=taken)
    store.copy(current, target)
    store.verify(target, expected_sha256=sha)
    column = "pdf_key" if role == "pdf" else "original_key"
    with session_scope(engine) as session:
        repo.update_document(
            session,
            document_id=int(drift.document_id or 0),
            changes={column: target},
            actor=actor,
            action="integrity.move_back",
            detail="对象已移回命名规则规定的位置",
        )
    store.delete(current)
    return RepairAction("move_back", current, target, drift.document_id, True, f"已移回 {target}")
