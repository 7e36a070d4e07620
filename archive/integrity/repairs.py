"""Repair without destroying anything: re-link orphans to records whose object is missing, move
drifted objects back to their computed key, move other orphans under ``lost+found/``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from sqlalchemy.engine import Engine
from sqlmodel import Session

from archive import placement
from archive.integrity.findings import Finding, RepairAction
from archive.integrity.keys import _move_back
from archive.naming import first_free_key
from archive.storage.base import ObjectStore
from config.errors import DossierError
from models import repo
from models.audit import SYSTEM_ACTOR

log = logging.getLogger(__name__)

LOST_AND_FOUND_PREFIX = "lost+found"


def _relocate(
    *, engine: Engine, store: ObjectStore, old_key: str, new_key: str, sha256: str, audit: dict
) -> None:
    """Move an object no document column names, as every placement moves one (copy, verify,
    audit and commit, then delete the old key)."""
    with Session(engine) as session:
        placement.move_objects(
            session,
            store,
            [placement.ObjectMove("orphan", old_key, new_key, sha256)],
            record=lambda _keys: repo.add_audit_event(
                session,
                actor=audit["actor"],
                action=audit["action"],
                entity_type=audit["entity_type"],
                entity_id=audit["entity_id"],
                before={"object_key": old_key},
                after={"object_key": new_key},
                detail=audit["detail"],
            ),
        )


def _relink(
    *, engine: Engine, store: ObjectStore, orphan: Finding, missing: Finding, actor: str
) -> RepairAction:
    """Put an orphan whose bytes match a record's missing object where the record expects it."""
    target = str(missing.object_key)
    _relocate(
        engine=engine,
        store=store,
        old_key=str(orphan.object_key),
        new_key=target,
        sha256=str(missing.detail.get("sha256")),
        audit={
            "actor": actor,
            "action": "integrity.relink",
            "entity_type": "document",
            "entity_id": missing.document_id or "",
            "detail": "孤立对象内容与缺失对象一致，已移回记录的位置",
        },
    )
    return RepairAction(
        "relink",
        str(orphan.object_key),
        target,
        missing.document_id,
        True,
        f"已将孤立对象移回 {target}",
    )


def _to_lost_found(
    *, engine: Engine, store: ObjectStore, orphan: Finding, actor: str
) -> RepairAction:
    """Move an orphan nothing claims under ``lost+found/`` (never deleted)."""
    key = str(orphan.object_key)
    sha = store.sha256_of(key)
    target = first_free_key(f"{LOST_AND_FOUND_PREFIX}/{key}", taken=store.exists)
    _relocate(
        engine=engine,
        store=store,
        old_key=key,
        new_key=target,
        sha256=sha,
        audit={
            "actor": actor,
            "action": "integrity.lost_found",
            "entity_type": "object",
            "entity_id": sha,
            "detail": "无记录引用的对象已移入 lost+found",
        },
    )
    return RepairAction("lost_found", key, target, None, True, f"已移入 {target}")


def _attempt(action: str, finding: Finding, fn: Callable[[], RepairAction]) -> RepairAction:
    try:
        return fn()
    except DossierError as e:
        log.warning("repair %s of %s failed: %s", action, finding.object_key, e)
        return RepairAction(
            action, str(finding.object_key), None, finding.document_id, False, e.message
        )


def repair(
    *,
    engine: Engine,
    store: ObjectStore,
    findings: Iterable[Finding],
    actor: str = SYSTEM_ACTOR,
) -> list[RepairAction]:
    """Repair what can be repaired without destroying anything; every repair is audited.

    Order: orphans whose content matches a record's missing object are moved to that record's
    key; drifted objects are moved back to their computed key; remaining orphans go under
    ``lost+found/``. A failed repair is reported (``ok`` false) and the others continue.
    """
    items = list(findings)
    missing = {
        str(f.detail.get("sha256")): f
        for f in items
        if f.kind == "object_missing" and f.detail.get("sha256")
    }
    actions: list[RepairAction] = []
    leftover: list[Finding] = []
    for orphan in (f for f in items if f.kind == "orphan"):
        try:
            sha = store.sha256_of(str(orphan.object_key))
        except DossierError as e:
            actions.append(
                RepairAction("relink", str(orphan.object_key), None, None, False, e.message)
            )
            continue
        match = missing.pop(sha, None)
        if match is None:
            leftover.append(orphan)
            continue
        actions.append(
            _attempt(
                "relink",
                orphan,
                lambda o=orphan, m=match: _relink(
                    engine=engine, store=store, orphan=o, missing=m, actor=actor
                ),
            )
        )
    for drift in (f for f in items if f.kind == "key_drift"):
        actions.append(
            _attempt(
                "move_back",
                drift,
                lambda d=drift: _move_back(engine=engine, store=store, drift=d, actor=actor),
            )
        )
    for orphan in leftover:
        actions.append(
            _attempt(
                "lost_found",
                orphan,
                lambda o=orphan: _to_lost_found(engine=engine, store=store, orphan=o, actor=actor),
            )
        )
    return actions
