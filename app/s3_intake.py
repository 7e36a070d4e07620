"""The shared S3 intake: pull the objects of one S3 prefix into this worker's local intake,
each object by exactly one worker however many run on however many machines, and delete it
from S3 only once its file is filed (or quarantined), so a machine lost for good loses nothing.

Per object listed under ``intake_s3_url``, oldest first, until a batch of files is pulled
(``app.intake_pass`` processes the batch and calls again while the prefix has more):

1. **claim**: insert its ``intake_pull`` row (unique per key and version) and commit; the insert
   is the lock across machines. A row whose holder's heartbeat is older than
   ``intake_s3_claim_timeout_seconds`` is adopted instead (``models.repo.intake_pulls``). The
   holder's :class:`~app.s3_leases.LeaseKeeper` renews the heartbeat of every row it holds,
   during a slow download as while the file waits to be filed;
2. **download** it to a temporary file in ``work_dir``, its size checked against the listing and
   its bytes against the digest the object records (if any). Too large, or a name the store
   refuses: the row says ``refused`` with the reason and the object stays in S3 for a person;
   deleted meanwhile: ``vanished``;
3. **hand it in** with :func:`ingest.intake.drop_file`, with the submitter, hints, note and
   intake sub-folder of its signed companion sidecar (:mod:`app.intake_drop`; none, or one not
   signed with the shared key or not for these bytes: submitter ``s3:<key>``, the note saying
   why), check the dropped bytes against the download, mark the row ``pulled`` (digest, local
   path), commit;
4. once the intake pass knows the file's outcome (filed, or quarantined), :func:`settle_pulled`
   (``app.s3_intake_pass``) **deletes** the object, then its sidecar, and marks the row ``done``.
   A file handed back after an outage stays ``pulled`` for the next pass. Sidecars without their
   object (a crash between writing the two, or between the two deletes) are deleted once older
   than the claim timeout.

A worker gone at any step leaves the object in S3 and its row open. The next pass on the same
machine (a new process: each Prefect flow run is one) resumes that intake's ``pulled`` rows at
once (:func:`~app.s3_leases.holder_gone`): the file waits in the intake, or in a claim the
intake pass recovers. Elsewhere, once the heartbeat is older than the timeout, another worker
adopts the row: a document with the object's digest filed already, it only deletes the object;
otherwise it pulls the object again (a copy the dead worker had dropped and that is filed after
all is quarantined as ``duplicate`` by the intake's duplicate check: filed once). A row left
open for an object that is gone (a crash between the delete and ``done``) is closed by the same
adoption. A transient fault (S3 or the database unreachable) releases the claim for the next
pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.intake_drop import (
    intake_secret,
    is_sidecar_key,
    read_companion,
    sidecar_key,
    sweep_orphan_sidecars,
)
from app.s3_leases import LeaseKeeper, holder_gone, this_host
from archive.errors import InvalidKeyError, ObjectNotFoundError, StorageError
from archive.storage import ObjectInfo, ObjectStore, store_from_settings
from config import Settings
from config.errors import DossierError
from ingest.fsutil import sha256_file
from ingest.intake import MANIFEST_NAME, PROCESSING_DIR, drop_file
from models import repo
from models.db import utcnow
from models.intake_pull import IntakePull

log = logging.getLogger("dossier.s3_intake")

PullKind = Literal["pulled", "resumed", "finished", "refused", "vanished", "lost", "retry"]
_MAX_SUBMITTER = 64  # Document.submitted_by
_MAX_NAME_BYTES = 200  # leaves room for "-2" and the file system's 255
_CHUNK = 1024 * 1024
_NEVER_STALE = datetime(9999, 1, 1, tzinfo=UTC)  # adopts whatever the heartbeat says


@dataclass(frozen=True)
class PullOutcome:
    """What became of one object in this pass.

    ``pulled``: handed in to this worker's intake (``path``); ``resumed``: handed in earlier
    by a pass of this machine that is gone, its file still here (``path`` when it waits in
    the intake, None when a claim in the work folder holds it); ``finished``: its bytes were
    filed already, the object deleted; ``refused`` / ``vanished``: see the module; ``lost``:
    another worker adopted the claim meanwhile (it finishes it); ``retry``: a transient fault,
    the claim released for the next pass.
    """

    key: str
    kind: PullKind
    path: str | None = None
    reason: str | None = None


@dataclass
class PullReport:
    """One pull pass: each object's outcome, and the error that stopped the listing, if any."""

    outcomes: list[PullOutcome] = field(default_factory=list)
    error: str | None = None
    more: bool = False  #: the last call stopped at its batch: the prefix has more
    fresh: list[Path] = field(default_factory=list)  #: dropped (or resumed) by the last call

    def add(self, outcome: PullOutcome) -> None:
        self.outcomes.append(outcome)
        if outcome.kind in ("pulled", "resumed") and outcome.path:
            self.fresh.append(Path(outcome.path))

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.kind] = counts.get(o.kind, 0) + 1
        return counts

    def as_dict(self) -> dict[str, object]:
        return {
            "counts": self.counts(),
            "objects": [asdict(o) for o in self.outcomes],
            "error": self.error,
        }


def worker_name(run_id: str) -> str:
    """Who holds a claim: host, process and run (for people and for the adoption log)."""
    return f"{this_host()}:{os.getpid()}:{run_id[:12]}"


def object_version(info: ObjectInfo) -> str:
    """What tells two uploads under one key apart: size, last-modified time, ETag."""
    return f"{info.size}:{info.last_modified.isoformat()}:{info.etag or ''}"[:200]


def pull_s3_intake(
    *,
    settings: Settings,
    engine: Engine,
    worker: str,
    store: ObjectStore | None = None,
    batch: int | None = None,
    into: PullReport | None = None,
    leases: LeaseKeeper | None = None,
) -> PullReport | None:
    """Pull the objects of the S3 intake prefix into ``settings.intake_dir`` (see the module).

    Args:
        settings: ``intake_s3_url`` (empty: no S3 intake, returns None), the intake and work
            folders, ``max_file_mb``, ``intake_s3_claim_timeout_seconds`` and ``workers``.
        engine: The database every worker shares.
        worker: This worker's name (:func:`worker_name`).
        store: The intake prefix's store (default: built from ``intake_s3_url``).
        batch: Stop after pulling this many files (``more`` is then set), so that a worker
            takes what it can process now and leaves the rest to the others; default
            ``4 × workers``.
        into: A report of earlier rounds of the same pass to add this call's outcomes to.
        leases: The pass's rows and their heartbeat (``app.s3_intake_pass``); default: a
            keeper beating for this call only (the pulled rows then wait for a next pass).

    Returns:
        The pass's report (``fresh``: what this call dropped); never raises for one object
        or an unreachable S3 server.
    """
    if store is None:
        if not settings.intake_s3_url:
            return None
        store = store_from_settings(settings, url=settings.intake_s3_url)
    if leases is None:
        timeout = settings.intake_s3_claim_timeout_seconds
        with LeaseKeeper(engine, worker=worker, timeout=timeout) as own:
            return pull_s3_intake(
                settings=settings, engine=engine, worker=worker, store=store, batch=batch,
                into=into, leases=own,
            )  # fmt: skip
    report = into or PullReport()
    report.more, report.fresh = False, []
    puller = _Puller(settings=settings, engine=engine, store=store, worker=worker, leases=leases)
    puller.sweep_downloads()
    for outcome in puller.resume_own():
        report.add(outcome)
    puller.pull_listed(report, limit=batch or 4 * settings.workers)
    if report.fresh:
        log.info("s3 intake by %s: %d file(s) pulled", worker, len(report.fresh))
    return report


@dataclass(frozen=True)
class _Puller:
    settings: Settings
    engine: Engine
    store: ObjectStore
    worker: str
    leases: LeaseKeeper

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.intake_s3_claim_timeout_seconds)

    @property
    def stale_before(self) -> datetime:
        return utcnow() - self.timeout

    def pull_listed(self, report: PullReport, *, limit: int) -> None:
        """List the prefix; pull what is listed, oldest first, until ``limit`` files are
        fresh; then close what is open for an object no longer listed."""
        try:
            everything = [i for i in self.store.iter_objects() if not i.key.endswith("/")]
        except DossierError as e:
            report.error = f"无法列出 S3 收件前缀：{e.message}"
            log.warning("s3 intake: listing failed: %s", e.message)
            return
        try:
            sweep_orphan_sidecars(self.store, everything, older_than=self.timeout)
        except DossierError as e:  # the next pass sweeps again
            log.warning("s3 intake: orphan sidecars not swept: %s", e.message)
        listed = [i for i in everything if not is_sidecar_key(i.key)]
        for info in sorted(listed, key=lambda i: (i.last_modified, i.key)):
            if len(report.fresh) >= limit:
                report.more = True
                break
            outcome = self.pull(info)
            if outcome is not None:
                report.add(outcome)
        for outcome in self.close_unlisted({(i.key, object_version(i)) for i in listed}):
            report.add(outcome)

    def pull(self, info: ObjectInfo) -> PullOutcome | None:
        """Claim one listed object and take it as far as it goes; None: not ours."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                row = repo.claim_intake_pull(
                    session,
                    object_key=info.key,
                    version=object_version(info),
                    size=info.size,
                    worker=self.worker,
                    stale_before=self.stale_before,
                )
                session.commit()
        except SQLAlchemyError as e:
            log.warning("s3 intake: cannot claim %s: %s", info.key, type(e).__name__)
            return PullOutcome(info.key, "retry", reason=f"数据库暂时不可用（{type(e).__name__}）")
        if row is None:
            return None
        if row.adopted_from:
            log.info("s3 intake: %s adopted from %s (%s)", info.key, row.adopted_from, row.state)
        return self.advance(row)

    def advance(self, row: IntakePull) -> PullOutcome:
        """Take a held row from where it stands to its end (or to its file in the intake)."""
        self.leases.hold(row)
        try:
            if row.state == "pulled":
                if self._filed(row):  # only the delete was missing
                    return self._finish(row)
                here = self._here(row)
                if here is not None:  # the intake pass files it; settle() closes the row
                    return PullOutcome(row.object_key, "resumed", here or None)
            return self._download(row)
        except Exception as e:  # noqa: BLE001 - one object never stops the pass
            return self._failed(row, e)

    def resume_own(self) -> list[PullOutcome]:
        """Adopt at once the ``pulled`` rows of this intake whose holder, a pass on this
        machine, is gone (killed, or over with its file handed back)."""
        under = os.path.join(str(self.settings.intake_dir), "")
        with Session(self.engine, expire_on_commit=False) as session:
            rows = repo.pulled_intake_pulls_of(session, host=this_host(), under=under)
        outcomes = []
        for old in rows:
            if holder_gone(old.worker) and (row := self._adopt(old, _NEVER_STALE)):
                log.info("s3 intake: %s resumed from %s", row.object_key, old.worker)
                outcomes.append(self.advance(row))
        return outcomes

    def close_unlisted(self, seen: set[tuple[str, str]]) -> list[PullOutcome]:
        """Adopt stale open rows whose object was not listed (gone) and close them."""
        outcomes = []
        with Session(self.engine, expire_on_commit=False) as session:
            stale = repo.stale_intake_pulls(session, stale_before=self.stale_before)
        for old in stale:
            if (old.object_key, old.version) in seen:
                continue  # handled (or being handled) through the listing
            if row := self._adopt(old, self.stale_before):
                log.info("s3 intake: %s adopted from %s (unlisted)", row.object_key, old.worker)
                outcomes.append(self.advance(row))
        return outcomes

    def settle(self, sha256: str) -> int:
        """The file with this digest is filed or quarantined: finish the rows held for it
        (delete the object, mark the row ``done``). Returns how many were finished; a fault
        leaves the row ``pulled`` for the next pass to finish."""
        finished = 0
        for row in self.leases.pulled(sha256):
            try:
                finished += self._finish(row).kind == "finished"
            except Exception as e:  # noqa: BLE001 - the next pass finishes it
                message = e.message if isinstance(e, DossierError) else type(e).__name__
                log.warning("s3 intake: %s filed, not yet deleted: %s", row.object_key, message)
        return finished

    @property
    def downloads(self) -> Path:
        return Path(self.settings.work_dir) / "s3-intake"  # type: ignore[arg-type]

    def sweep_downloads(self) -> None:
        """Remove partial downloads a killed worker left, once older than the claim timeout
        (a download of a live worker on this machine is younger: its claim would be stale)."""
        limit = time.time() - self.settings.intake_s3_claim_timeout_seconds
        for temp in self.downloads.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if temp.stat().st_mtime < limit:
                    temp.unlink()

    # -- the steps -------------------------------------------------------------------------

    def _adopt(self, old: IntakePull, stale_before: datetime) -> IntakePull | None:
        with Session(self.engine, expire_on_commit=False) as session:
            row = repo.adopt_intake_pull(
                session, row=old, worker=self.worker, stale_before=stale_before
            )
            session.commit()
        return row

    def _filed(self, row: IntakePull) -> bool:
        """Whether a document of the object's bytes is filed (by whichever worker)."""
        if not row.sha256:
            return False
        with Session(self.engine) as session:
            found = repo.find_documents_by_sha256(session, sha256=row.sha256)
            return any(d.original_sha256 == row.sha256 for d in found)

    def _here(self, row: IntakePull) -> str | None:
        """Where this machine still has the row's bytes: the path in the intake, ``""`` when a
        claim in the work folder holds them (the intake pass recovers it); None: not here."""
        if not row.sha256 or not row.local_path:
            return None
        path = Path(row.local_path)
        with contextlib.suppress(OSError):  # in this worker's intake (or a shared one)
            if path.is_relative_to(self.settings.intake_dir) and path.is_file():  # type: ignore[arg-type]
                if sha256_file(path) == row.sha256:
                    return str(path)
        claims = Path(self.settings.work_dir) / PROCESSING_DIR  # type: ignore[arg-type]
        for manifest in claims.glob(f"*/*/{MANIFEST_NAME}"):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                if json.loads(manifest.read_text()).get("sha256") == row.sha256:
                    return ""
        return None

    def _download(self, row: IntakePull) -> PullOutcome:
        limit = self.settings.max_file_mb * 1024 * 1024
        if row.size > limit:
            reason = (
                f"文件过大：{row.size / 1024 / 1024:.1f} MB，超过上限 "
                f"{self.settings.max_file_mb} MB，已留在 S3 收件前缀中"
            )
            return self._close(row, "refused", reason=reason)
        self.downloads.mkdir(parents=True, exist_ok=True)
        temp = self.downloads / f"{uuid.uuid4().hex}.part"
        try:
            try:
                with self.store.open(row.object_key) as stream:
                    digest, size = _save(stream, temp)
            except ObjectNotFoundError:
                return self._close(row, "vanished", reason="对象在列出之后、下载之前已被删除")
            except InvalidKeyError as e:
                return self._close(row, "refused", reason=f"对象名无法作为收件文件：{e.message}")
            if size != row.size:
                raise StorageError(f"下载的大小 {size} 与列出的大小 {row.size} 不一致")
            path = self._hand_in(row, temp, digest)
        finally:
            temp.unlink(missing_ok=True)
        if not self._advance(row, "pulled", sha256=digest, local_path=str(path)):
            self.leases.let_go(row)
            return PullOutcome(row.object_key, "lost", str(path), "认领已被其他工作进程接管")
        return PullOutcome(row.object_key, "pulled", str(path))

    def _hand_in(self, row: IntakePull, temp: Path, digest: str) -> Path:
        """Drop the downloaded file into the intake under its name, with what its signed sidecar
        says (else as an anonymous ``s3:<key>`` submission); check the dropped bytes."""
        check = read_companion(
            self.store, row.object_key, sha256=digest, secret=intake_secret(self.settings)
        )
        record = check.record
        if check.problem:
            log.warning("s3 intake: %s sidecar not trusted: %s", row.object_key, check.problem)
        note = f"S3 收件：{row.object_key}"
        if check.problem:
            note += f"；{check.problem}，已按匿名提交处理"
        path = drop_file(
            temp,
            intake_name(row.object_key),
            Path(self.settings.intake_dir or "") / check.folder,
            submitted_by=record.submitted_by if record else f"s3:{row.object_key}"[:_MAX_SUBMITTER],
            customer_code=record.customer_code if record else None,
            document_type=record.document_type if record else None,
            note=(record.note if record else note[:500]),
        )
        if sha256_file(path) != digest:  # pragma: no cover - a failing local disk
            raise StorageError(f"收件文件与下载内容不一致：{path.name}")
        return path

    def _finish(self, row: IntakePull) -> PullOutcome:
        """Delete the object (its bytes filed or quarantined) and close the row."""
        self.store.delete(row.object_key)  # deleting a missing object is no error
        with contextlib.suppress(InvalidKeyError):  # a key too long to have a sidecar
            self.store.delete(sidecar_key(row.object_key))  # crash before: swept after timeout
        held = self._advance(row, "done")
        self.leases.let_go(row)
        return PullOutcome(row.object_key, "finished" if held else "lost")

    def _close(self, row: IntakePull, state: str, *, reason: str) -> PullOutcome:
        self._advance(row, state, reason=reason)
        self.leases.let_go(row)
        log.warning("s3 intake: %s %s: %s", row.object_key, state, reason)
        kind: PullKind = "refused" if state == "refused" else "vanished"
        return PullOutcome(row.object_key, kind, reason=reason)

    def _advance(self, row: IntakePull, state: str, **values: str | None) -> bool:
        with Session(self.engine, expire_on_commit=False) as session:
            held = repo.advance_intake_pull(session, row=row, state=state, **values)  # type: ignore[arg-type]
            session.commit()
        return held

    def _failed(self, row: IntakePull, error: Exception) -> PullOutcome:
        """A fault during a step: give the row up for the next pass (``release_intake_pull``)."""
        self.leases.let_go(row)
        transient = isinstance(error, SQLAlchemyError | OSError) or (
            isinstance(error, DossierError) and error.retryable
        )
        message = error.message if isinstance(error, DossierError) else type(error).__name__
        if not transient:
            log.error("s3 intake: unexpected error on %s", row.object_key, exc_info=error)
        try:
            with Session(self.engine) as session:
                repo.release_intake_pull(session, row=row)
                session.commit()
        except SQLAlchemyError:  # the database is down: the claim is adopted after the timeout
            pass
        log.warning("s3 intake: %s left for the next pass: %s", row.object_key, message)
        return PullOutcome(row.object_key, "retry", reason=f"暂时无法处理，下次再试：{message}")


def settle_pulled(
    *, settings: Settings, engine: Engine, store: ObjectStore, leases: LeaseKeeper, sha256: str
) -> int:
    """The file with this digest is filed or quarantined: finish the rows ``leases`` holds
    for it (delete the object, mark the row ``done``); how many were finished."""
    puller = _Puller(settings, engine, store, leases.worker, leases)
    return puller.settle(sha256)


def intake_name(key: str) -> str:
    """The file name an object gets in the intake: its last segment, shortened to fit."""
    name = PurePosixPath(key).name or "s3-object"
    if len(name.encode("utf-8")) <= _MAX_NAME_BYTES:
        return name
    suffix = PurePosixPath(name).suffix
    suffix = suffix if len(suffix.encode("utf-8")) <= 16 else ""
    stem = name[: len(name) - len(suffix)]
    while len((stem + suffix).encode("utf-8")) > _MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix


def _save(stream: BinaryIO, temp: Path) -> tuple[str, int]:
    """Write ``stream`` to ``temp`` (fsynced); its sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    with temp.open("xb") as out:
        while chunk := stream.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


__all__ = [
    "PullOutcome",
    "PullReport",
    "intake_name",
    "object_version",
    "pull_s3_intake",
    "settle_pulled",
    "worker_name",
]
