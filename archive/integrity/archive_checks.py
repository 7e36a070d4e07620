"""Archive-wide checks (duplicates, set invariants, checklists, stale quarantine) and
:func:`run_checks`, which runs every check once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from archive.integrity.document_checks import ACTIVE_STATUSES, check_documents
from archive.integrity.findings import CheckOptions, CheckReport, Finding, _finding
from archive.integrity.object_pass import check_objects
from archive.storage.base import ObjectStore
from config.errors import DossierError
from config.taxonomy import Taxonomy
from models.customer import Customer
from models.db import utcnow
from models.document import Document

log = logging.getLogger(__name__)


def _duplicate_groups(session: Session) -> dict[frozenset[int], set[str]]:
    d = Document
    live = col(d.status) != "rejected"
    pdf_shas = session.exec(
        select(d.pdf_sha256)
        .where(live, col(d.pdf_sha256).is_not(None))
        .group_by(d.pdf_sha256)
        .having(func.count(col(d.id)) > 1)
    ).all()
    orig_shas = session.exec(
        select(d.original_sha256)
        .where(live)
        .group_by(d.original_sha256)
        .having(func.count(sa.distinct(d.original_key)) > 1)
    ).all()
    groups: dict[frozenset[int], set[str]] = {}
    for column, shas in ((d.pdf_sha256, pdf_shas), (d.original_sha256, orig_shas)):
        for sha in shas:
            ids = frozenset(session.exec(select(d.id).where(live, column == sha)).all())
            groups.setdefault(ids, set()).add(str(sha))  # type: ignore[arg-type]
    return groups


def check_duplicates(engine: Engine) -> list[Finding]:
    """Records holding the same bytes (PDF or original), across customers too.

    Documents cut from one bundle file share their original; that is not a duplicate.
    """
    with Session(engine) as session:
        groups = _duplicate_groups(session)
    out = []
    for ids, shas in sorted(groups.items(), key=lambda item: sorted(item[0])):
        ordered = sorted(ids)
        out.append(
            _finding(
                "duplicate_sha256",
                f"资料 {', '.join(map(str, ordered))} 的文件内容相同",
                document_id=ordered[0],
                subject="documents:" + ",".join(map(str, ordered)),
                detail={"document_ids": ordered, "sha256": sorted(shas)},
            )
        )
    return out


def check_set_invariants(engine: Engine) -> list[Finding]:
    """Rules over several rows: a superseded document has a successor; PDF keys are unique."""
    d = Document
    successor = sa.alias(Document.__table__, "successor")  # type: ignore[attr-defined]
    has_successor = sa.exists().where(successor.c.supersedes_id == d.id)
    out = []
    with Session(engine) as session:
        orphaned = session.exec(
            select(d.id).where(col(d.status) == "superseded", ~has_successor)
        ).all()
        shared = session.exec(
            select(d.pdf_key)
            .where(col(d.pdf_key).is_not(None))
            .group_by(d.pdf_key)
            .having(func.count(col(d.id)) > 1)
        ).all()
    for doc_id in orphaned:
        out.append(
            _finding(
                "invariant_superseded_without_successor",
                f"资料 {doc_id} 标记为已替换，但没有替换它的新版本",
                document_id=doc_id,
            )
        )
    for key in shared:
        out.append(
            _finding("invariant_shared_key", f"多条记录指向同一个 PDF 对象: {key}", object_key=key)
        )
    return out


def _customer_pages(engine: Engine, page_size: int) -> Iterator[list[Any]]:
    after = 0
    c = Customer
    while True:
        with Session(engine) as session:
            rows = session.exec(
                select(c.id, c.code, c.customer_type)
                .where(col(c.id) > after)
                .order_by(col(c.id))
                .limit(page_size)
            ).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1][0]


def _present_types(engine: Engine, customer_ids: Sequence[int]) -> set[tuple[int, str]]:
    d = Document
    with Session(engine) as session:
        rows = session.exec(
            select(d.customer_id, d.document_type)
            .distinct()
            .where(col(d.customer_id).in_(customer_ids), col(d.status).in_(ACTIVE_STATUSES))
        ).all()
    return {(int(cid), str(t)) for cid, t in rows if cid is not None}


def check_checklists(
    *, engine: Engine, taxonomy: Taxonomy, report: CheckReport, page_size: int = 500
) -> None:
    """Customers missing a document their customer type requires (资料清单)."""
    for page in _customer_pages(engine, page_size):
        present = _present_types(engine, [row[0] for row in page])
        report.stats["customers"] += len(page)
        for cid, code, ctype in page:
            try:
                required = taxonomy.customer_type(ctype).required_documents
            except DossierError:
                continue
            for doc_type in required:
                if (cid, doc_type) in present:
                    continue
                label = taxonomy.document_type(doc_type).label
                report.findings.add(
                    "checklist_missing",
                    f"客户 {code} 缺少{label}",
                    subject=f"customer:{code}:{doc_type}",
                    customer_id=cid,
                    customer_code=code,
                    document_type=doc_type,
                )


@dataclass(frozen=True)
class QuarantineItem:
    """A quarantined file as plain data (the flow lists the quarantine folder)."""

    name: str  # path relative to the quarantine folder
    reason: str
    quarantined_at: datetime
    problem: str | None = None


def check_quarantine(items: Iterable[QuarantineItem], *, options: CheckOptions) -> list[Finding]:
    """Quarantined files older than ``quarantine_stale_days`` that nobody has handled."""
    limit = timedelta(days=options.quarantine_stale_days)
    out = []
    for item in items:
        when = item.quarantined_at
        when = when if when.tzinfo else when.astimezone()
        age = options.now - when
        if age <= limit:
            continue
        out.append(
            _finding(
                "quarantine_stale",
                f"隔离文件 {item.name} 已 {age.days} 天未处理",
                subject=f"quarantine:{item.name}",
                detail={
                    "name": item.name,
                    "reason": item.reason,
                    "days": age.days,
                    "problem": item.problem,
                },
            )
        )
    return out


def run_checks(
    *,
    engine: Engine,
    store: ObjectStore,
    taxonomy: Taxonomy,
    options: CheckOptions,
    quarantine: Iterable[QuarantineItem] = (),
) -> CheckReport:
    """Run every check once and return the findings (nothing is written but verification stamps).

    The document pass (database only: key drift, review, expiry, row invariants) runs first,
    then the object pass (one listing joined with the references; content reads in a thread
    pool). Not side by side: on SQLite every transaction takes the write lock, and the two
    passes waited on each other.

    Args:
        engine: The database (read in short transactions, page by page).
        store: The object store.
        taxonomy: Naming templates, types and checklists.
        options: Mode, thresholds, concurrency, reference time.
        quarantine: Quarantined files (the flow lists them; archive does not import ingest).

    Returns:
        The report: findings and counters (documents, objects, hashed_objects, hashed_bytes,
        listed_objects, customers).
    """
    report = CheckReport(mode=options.mode, started_at=utcnow())
    findings, documents = check_documents(
        engine=engine, taxonomy=taxonomy, options=options, max_key_bytes=store.max_key_bytes
    )
    report.findings.extend(findings)
    report.stats["documents"] += documents
    with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="integrity") as pool:
        check_objects(
            engine=engine, store=store, taxonomy=taxonomy, options=options, pool=pool, report=report
        )
    report.findings.extend(check_duplicates(engine))
    report.findings.extend(check_set_invariants(engine))
    check_checklists(engine=engine, taxonomy=taxonomy, report=report, page_size=options.page_size)
    report.findings.extend(check_quarantine(quarantine, options=options))
    report.finished_at = utcnow()
    log.info(
        "integrity check (%s): %d findings, %s",
        options.mode,
        len(report.findings),
        dict(report.stats),
    )
    return report
