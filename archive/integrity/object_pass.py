"""The object pass: the documents' references (in key order) joined with one listing of the
archive prefixes, reads planned by mode, content checks in a bounded thread pool, verification
stamps, and orphans.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from archive.integrity.findings import CheckOptions, CheckReport, Mode
from archive.integrity.objects import ObjectOutcome, check_in_memory, check_object
from archive.integrity.rows import ObjectRef, PdfFacts, _stamps, iter_object_refs
from archive.storage.base import ObjectInfo, ObjectStore
from config.taxonomy import Taxonomy
from models.db import session_scope
from models.document import Document
from models.runs import ObjectVerification

T = TypeVar("T")

#: Most objects handed to the pool after a failed in-memory read before the next attempt.
MAX_MEMORY_BACKOFF = 256


def archive_prefixes(taxonomy: Taxonomy) -> tuple[str, ...]:
    """The listing prefixes that hold documents' objects (``archive/``, ``originals/``)."""
    t = taxonomy.templates
    return tuple(p.strip("/") + "/" for p in (t.archive_prefix, t.originals_prefix))


def listing_prefixes(taxonomy: Taxonomy) -> list[str]:
    """The archive prefixes in key order, without one that another already covers."""
    out: list[str] = []
    for prefix in sorted(set(archive_prefixes(taxonomy))):
        if not any(prefix.startswith(p) for p in out):
            out.append(prefix)
    return out


def _listing(store: ObjectStore, prefixes: Sequence[str]) -> Iterator[ObjectInfo]:
    for prefix in prefixes:
        yield from store.iter_objects(prefix)


def join_by_key(
    refs: Iterable[ObjectRef], listing: Iterable[ObjectInfo]
) -> Iterator[tuple[list[ObjectRef], ObjectInfo | None, ObjectInfo | None]]:
    """Merge references and listed objects, both in key order.

    Yields ``(refs, info, unmatched)``: references of one key with the listed object of that
    key (or None when it was not listed), or ``([], None, info)`` for a listed object no
    reference in the stream matched. If the two orders ever disagreed, a reference would only
    fall back to ``head`` and an unmatched object be looked up in the database: slower, never
    wrong.
    """
    listed = iter(listing)
    info = next(listed, None)
    for key, group in itertools.groupby(refs, key=lambda ref: ref.key):
        while info is not None and info.key < key:
            yield [], None, info
            info = next(listed, None)
        if info is not None and info.key == key:
            yield list(group), info, None
            info = next(listed, None)
        else:
            yield list(group), None, None
    while info is not None:
        yield [], None, info
        info = next(listed, None)


# --- the object pass ----------------------------------------------------------------------------


def _plan_reads(engine: Engine, refs: list[ObjectRef], options: CheckOptions) -> list[ObjectRef]:
    """Which objects to read (by mode), with the PDF facts of their last verification.

    Full runs read everything; incremental runs what was not verified since ``scrub_days``
    with the digest recorded now; metadata runs nothing.
    """
    if options.mode == Mode.METADATA:
        return [_planned(r, read=False, proven=None) for r in refs]
    full = options.mode == Mode.FULL
    wanted = [r.key for r in refs if not full or r.role == "pdf"]
    stamps = _stamps(engine, wanted) if wanted else {}
    since = options.now - timedelta(days=options.scrub_days)
    planned = []
    for ref in refs:
        stamp = stamps.get(ref.key)
        if stamp is None:
            planned.append(ref)
            continue
        fresh = stamp.sha256 == ref.sha256 and stamp.verified_at >= since
        planned.append(_planned(ref, read=full or not fresh, proven=stamp.pdf))
    return planned


def _planned(ref: ObjectRef, *, read: bool, proven: PdfFacts | None) -> ObjectRef:
    return ObjectRef(
        ref.key,
        ref.document_id,
        ref.role,
        ref.sha256,
        ref.size,
        ref.page_count,
        ref.expect_text,
        read,
        proven,
    )


def stamp_verified(engine: Engine, outcomes: Sequence[ObjectOutcome], *, at: datetime) -> None:
    """Remember that these objects passed every content check at ``at`` (upsert per key),
    with what pypdf found in their bytes (``PdfFacts``) when that is known."""
    rows = {}
    for o in outcomes:
        if not o.verified:
            continue
        pdf = o.pdf if o.pdf is not None and o.pdf.sha256 == o.ref.sha256 else None
        rows[o.ref.key] = {
            "key": o.ref.key,
            "sha256": o.ref.sha256,
            "size": o.hashed_bytes,
            "verified_at": at,
            "pdf_pages": pdf.pages if pdf else None,
            "pdf_text": pdf.text if pdf else None,
        }
    if not rows:
        return
    table = ObjectVerification.__table__  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        insert = (
            postgresql.insert
            if session.get_bind().dialect.name == "postgresql"
            else (sqlite.insert)
        )
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                name: stmt.excluded[name]
                for name in ("sha256", "size", "verified_at", "pdf_pages", "pdf_text")
            },
        )
        session.execute(stmt, list(rows.values()))


class _ObjectPass:
    """Checks referenced objects batch by batch, with at most ``limit`` reads in flight.

    An object the listing showed needs no store request unless its content is read; one it did
    not show is asked for with ``head`` (missing, unreadable, or written since the listing).
    A small one whose bytes are in memory is read right here (:func:`check_in_memory`); after
    a miss (bytes on disk, not cached: a cold archive), the next attempts wait for 1, 2, 4 ...
    up to ``MAX_MEMORY_BACKOFF`` objects, so a cold archive pays for almost no attempts.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        store: ObjectStore,
        options: CheckOptions,
        pool: ThreadPoolExecutor,
        report: CheckReport,
    ) -> None:
        self.engine, self.store, self.options = engine, store, options
        self.pool, self.report = pool, report
        self.limit = max(2, options.workers * 4)
        self.pending: deque[Future[ObjectOutcome]] = deque()
        self.done: list[ObjectOutcome] = []
        self.backoff = 0  # objects to hand to the pool before trying memory again
        self.skip = 0

    def check(self, pairs: list[tuple[ObjectRef, ObjectInfo | None]]) -> None:
        """Plan (which objects are due for a read) and check one batch."""
        planned = _plan_reads(self.engine, [ref for ref, _ in pairs], self.options)
        for ref, (_, info) in zip(planned, pairs, strict=True):
            if info is not None and (not ref.read_content or ref.size not in (None, info.size)):
                self._finish(self._check(ref, info))  # decided by the listing alone
                continue
            if info is not None and info.size <= self.options.inline_read_bytes:
                outcome = self._in_memory(ref, info)
                if outcome is not None:
                    self._finish(outcome)
                    continue
            self.pending.append(self.pool.submit(self._check, ref, info))
            while len(self.pending) > self.limit:
                self._finish(self.pending.popleft().result())

    def _in_memory(self, ref: ObjectRef, info: ObjectInfo) -> ObjectOutcome | None:
        if self.skip > 0:
            self.skip -= 1
            return None
        outcome = check_in_memory(
            self.store, ref, info=info, check_pdfs=self.options.check_pdf, deep=self.options.deep
        )
        if outcome is None:
            self.backoff = min(MAX_MEMORY_BACKOFF, max(1, 2 * self.backoff))
            self.skip = self.backoff
            return None
        self.backoff = 0
        self.report.stats["in_memory_reads"] += 1
        return outcome

    def _check(self, ref: ObjectRef, info: ObjectInfo | None) -> ObjectOutcome:
        return check_object(
            self.store,
            ref,
            check_pdfs=self.options.check_pdf,
            deep=self.options.deep,
            spool_bytes=self.options.spool_bytes,
            info=info,
        )

    def _finish(self, outcome: ObjectOutcome) -> None:
        stats = self.report.stats
        self.report.findings.extend(outcome.findings)
        stats["objects"] += 1
        stats["hashed_objects"] += int(outcome.read)
        stats["hashed_bytes"] += outcome.hashed_bytes
        stats["opened_pdfs"] += int(outcome.pdf_opened)
        if outcome.verified:
            self.done.append(outcome)
        if len(self.done) >= self.options.page_size:
            self._stamp()

    def _stamp(self) -> None:
        if self.options.mode != Mode.METADATA and self.done:
            stamp_verified(self.engine, self.done, at=self.options.now)
        self.done = []

    def close(self) -> None:
        """Wait for the reads in flight and stamp what they verified."""
        while self.pending:
            self._finish(self.pending.popleft().result())
        self._stamp()


def check_objects(
    *,
    engine: Engine,
    store: ObjectStore,
    taxonomy: Taxonomy,
    options: CheckOptions,
    pool: ThreadPoolExecutor,
    report: CheckReport,
) -> None:
    """Every referenced object (present, size, content by mode) and every orphan, in one pass.

    The documents' references (sorted by key) are joined with one listing of the archive
    prefixes, so presence and size need no request per object and orphans no query per key.
    """
    objects = _ObjectPass(engine=engine, store=store, options=options, pool=pool, report=report)
    batch: list[tuple[ObjectRef, ObjectInfo | None]] = []
    unmatched: list[ObjectInfo] = []
    listed = _counted(_listing(store, listing_prefixes(taxonomy)), report.stats, "listed_objects")
    for refs, info, stray in join_by_key(
        iter_object_refs(engine, page_size=options.page_size), listed
    ):
        if stray is not None:
            unmatched.append(stray)
            if len(unmatched) >= options.page_size:
                _report_orphans(engine, unmatched, report)
                unmatched = []
            continue
        batch.extend((ref, info) for ref in refs)
        if len(batch) >= options.page_size:
            objects.check(batch)
            batch = []
    if batch:
        objects.check(batch)
    _report_orphans(engine, unmatched, report)
    objects.close()


def _counted(items: Iterable[T], stats: Counter[str], name: str) -> Iterator[T]:
    for item in items:
        stats[name] += 1
        yield item


def _referenced_keys(engine: Engine, keys: Sequence[str]) -> set[str]:
    d = Document
    with Session(engine) as session:
        pdf = session.exec(select(d.pdf_key).where(col(d.pdf_key).in_(keys))).all()
        orig = session.exec(select(d.original_key).where(col(d.original_key).in_(keys))).all()
    return {k for k in (*pdf, *orig) if k}


def _report_orphans(engine: Engine, candidates: Sequence[ObjectInfo], report: CheckReport) -> None:
    """Listed objects the join matched to no reference: orphans, once the database agrees."""
    if not candidates:
        return
    referenced = _referenced_keys(engine, [o.key for o in candidates])
    for info in candidates:
        if info.key not in referenced:
            report.findings.add(
                "orphan", f"对象没有任何记录引用: {info.key}", object_key=info.key, size=info.size
            )


# --- the document pass --------------------------------------------------------------------------
