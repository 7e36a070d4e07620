"""The shared S3 intake: pull the objects of one S3 prefix into this worker's local intake,
each object by exactly one worker however many run on however many machines.

Per object listed under ``intake_s3_url``, oldest first, until a batch of files is pulled
(``app.intake_pass`` processes the batch and calls again while the prefix has more):

1. **claim**: insert its ``intake_pull`` row (unique per key and version) and commit; the insert
   is the lock across machines. A row whose holder's heartbeat is older than
   ``intake_s3_claim_timeout_seconds`` is adopted instead (``models.repo.intake_pulls``);
2. **download** it to a temporary file in ``work_dir``, its size checked against the listing and
   its bytes against the digest the object records (if any). Too large, or a name the store
   refuses: the row says ``refused`` with the reason and the object stays in S3 for a person;
   deleted meanwhile: ``vanished``;
3. **hand it in** with :func:`ingest.intake.drop_file`, with the submitter, hints, note and
   intake sub-folder of its signed companion sidecar (:mod:`app.intake_drop`; none, or one not
   signed with the shared key or not for these bytes: submitter ``s3:<key>``, the note saying
   why), check the dropped bytes against the download, mark the row ``pulled`` and commit;
4. **delete** the object, then its sidecar, and mark the row ``done``. Sidecars without their
   object (a crash between writing the two, or between the two deletes) are deleted once older
   than the claim timeout.

A crash anywhere is finished by the next pass of any worker: before step 3 is committed the
object is still there and is pulled again (a copy the dead worker had already dropped is filed
once: the intake's duplicate check quarantines the second as ``duplicate``); after it the row
says ``pulled`` and the adopter only deletes the object. A row left open for an object that is
gone (a crash between the delete and ``done``) is closed by the same adoption. A transient
fault (S3 or the database unreachable) releases the claim for the next pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
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
from archive.errors import InvalidKeyError, ObjectNotFoundError, StorageError
from archive.storage import ObjectInfo, ObjectStore, store_from_settings
from config import Settings
from config.errors import DossierError
from ingest.fsutil import sha256_file
from ingest.intake import drop_file
from models import repo
from models.db import utcnow
from models.intake_pull import IntakePull

log = logging.getLogger("dossier.s3_intake")

PullKind = Literal["pulled", "finished", "refused", "vanished", "lost", "retry"]
_MAX_SUBMITTER = 64  # Document.submitted_by
_MAX_NAME_BYTES = 200  # leaves room for "-2" and the file system's 255
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PullOutcome:
    """What became of one object in this pass.

    ``pulled``: handed in to this worker's intake (``path``); ``finished``: a dead worker's
    pull completed (object deleted); ``refused`` / ``vanished``: see the module; ``lost``:
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
    fresh: list[Path] = field(default_factory=list)  #: dropped by the last call

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
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{run_id[:12]}"


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

    Returns:
        The pass's report (``fresh``: what this call dropped); never raises for one object
        or an unreachable S3 server.
    """
    if store is None:
        if not settings.intake_s3_url:
            return None
        store = store_from_settings(settings, url=settings.intake_s3_url)
    report = into or PullReport()
    report.more, report.fresh = False, []
    puller = _Puller(settings=settings, engine=engine, store=store, worker=worker)
    puller.sweep_downloads()
    try:
        everything = [i for i in store.iter_objects() if not i.key.endswith("/")]
    except DossierError as e:
        report.error = f"无法列出 S3 收件前缀：{e.message}"
        log.warning("s3 intake: listing failed: %s", e.message)
        return report
    try:
        sweep_orphan_sidecars(store, everything, older_than=puller.timeout)
    except DossierError as e:  # the next pass sweeps again
        log.warning("s3 intake: orphan sidecars not swept: %s", e.message)
    listed = [i for i in everything if not is_sidecar_key(i.key)]
    limit = batch or 4 * settings.workers
    for info in sorted(listed, key=lambda i: (i.last_modified, i.key)):
        if len(report.fresh) >= limit:
            report.more = True
            break
        outcome = puller.pull(info)
        if outcome is not None:
            report.outcomes.append(outcome)
            if outcome.kind == "pulled" and outcome.path:
                report.fresh.append(Path(outcome.path))
    seen = {(i.key, object_version(i)) for i in listed}
    report.outcomes.extend(puller.close_unlisted(seen))
    if report.fresh:
        log.info("s3 intake by %s: %d file(s) pulled", worker, len(report.fresh))
    return report


@dataclass(frozen=True)
class _Puller:
    settings: Settings
    engine: Engine
    store: ObjectStore
    worker: str

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.intake_s3_claim_timeout_seconds)

    @property
    def stale_before(self) -> datetime:
        return utcnow() - self.timeout

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
        """Take a held row from where it stands to its end."""
        try:
            if row.state == "pulled":  # the bytes are in an intake already: only delete
                return self._finish(row)
            return self._download(row)
        except Exception as e:  # noqa: BLE001 - one object never stops the pass
            return self._failed(row, e)

    def close_unlisted(self, seen: set[tuple[str, str]]) -> list[PullOutcome]:
        """Adopt stale open rows whose object was not listed (gone) and close them."""
        outcomes = []
        with Session(self.engine, expire_on_commit=False) as session:
            stale = repo.stale_intake_pulls(session, stale_before=self.stale_before)
        for old in stale:
            if (old.object_key, old.version) in seen:
                continue  # handled (or being handled) through the listing
            with Session(self.engine, expire_on_commit=False) as session:
                row = repo.adopt_intake_pull(
                    session, row=old, worker=self.worker, stale_before=self.stale_before
                )
                session.commit()
            if row is not None:
                log.info("s3 intake: %s adopted from %s (unlisted)", row.object_key, old.worker)
                outcomes.append(self.advance(row))
        return outcomes

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
            return PullOutcome(row.object_key, "lost", str(path), "认领已被其他工作进程接管")
        return self._finish(row, path=path)

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

    def _finish(self, row: IntakePull, *, path: Path | None = None) -> PullOutcome:
        """Delete the object (already handed in) and close the row."""
        self.store.delete(row.object_key)  # deleting a missing object is no error
        with contextlib.suppress(InvalidKeyError):  # a key too long to have a sidecar
            self.store.delete(sidecar_key(row.object_key))  # crash before: swept after timeout
        if not self._advance(row, "done"):
            return PullOutcome(row.object_key, "lost", None if path is None else str(path))
        kind: PullKind = "pulled" if path is not None else "finished"
        return PullOutcome(row.object_key, kind, None if path is None else str(path))

    def _close(self, row: IntakePull, state: str, *, reason: str) -> PullOutcome:
        self._advance(row, state, reason=reason)
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


def pulled_paths(report: PullReport | None) -> Iterable[Path]:
    """The files the last pull dropped (none without an S3 intake)."""
    return report.fresh if report is not None else ()


__all__ = [
    "PullOutcome",
    "PullReport",
    "intake_name",
    "object_version",
    "pull_s3_intake",
    "pulled_paths",
    "worker_name",
]
