"""One intake pass, as plain functions (no Prefect): the flow in ``flows/ingest.py`` wraps these.

The order that guarantees nothing is lost:

1. claim the file (atomic rename into the work area; a crash leaves a claim the next run adopts);
2. refuse what must be refused (symlinks, special files, byte-identical duplicates);
3. normalize it in an isolated worker (time limit, memory bound);
4. file it: upload original and PDF, verify both checksums, commit the database;
5. only then remove the claim. Any error that is not transient quarantines the original byte
   for byte with a ``.error.json``; a transient one (storage or database down) returns the file
   to the intake for the next run.

:func:`process_claim` is the one function that turns a file's exception into its outcome.
"""

from __future__ import annotations

import logging
import shutil
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from app.after_pass import after_pass
from app.filing_request import (
    claim_token,
    filing_request,
    hinted_params,
    new_customer_owner,
)
from app.s3_intake_pass import S3IntakePass
from app.shutdown import graceful_stop
from archive.filing import FiledDocument, file_document
from archive.storage import ObjectStore
from config import Settings
from config.errors import DossierError, ErrorCode
from ingest import intake
from ingest.errors import (
    AlreadyClaimedError,
    DuplicateFileError,
    IngestError,
    NotRegularFileError,
)
from ingest.isolation import IsolatedPool
from ingest.pipeline import NormalizedFile, PipelineParams, normalize_file
from ingest.quarantine import quarantine
from models import repo
from models.document import Document
from models.errors import ConflictError

log = logging.getLogger("dossier.ingest")

OutcomeKind = Literal["archived", "needs_review", "quarantined", "duplicate", "recovered", "retry"]


@dataclass(frozen=True)
class Outcome:
    """What became of one intake file."""

    source: str
    kind: OutcomeKind
    sha256: str | None = None
    documents: tuple[FiledDocument, ...] = ()
    reason: str | None = None
    message: str | None = None
    quarantine_path: str | None = None
    pages: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "outcome": self.kind,
            "sha256": self.sha256,
            "reason": self.reason,
            "message": self.message,
            "quarantine_path": self.quarantine_path,
            "pages": self.pages,
            "seconds": self.seconds,
            "documents": [
                {
                    "id": d.document_id,
                    "status": d.status,
                    "document_type": d.document_type,
                    "customer_code": d.customer_code,
                    "pdf_key": d.pdf_key,
                    "original_key": d.original_key,
                    "review_reasons": list(d.reasons),
                }
                for d in self.documents
            ],
        }


@dataclass
class IngestServices:
    """What processing a claim needs; built once per run."""

    settings: Settings
    engine: Engine
    store: ObjectStore
    pool: IsolatedPool
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    params: PipelineParams | None = None

    def pipeline_params(self) -> PipelineParams:
        if self.params is None:
            self.params = PipelineParams.from_settings(self.settings)
        return self.params


def is_transient(error: BaseException) -> bool:
    """Storage and database outages are retried; everything else is a property of the file."""
    if isinstance(error, DossierError):
        return error.retryable
    return isinstance(error, OperationalError | ConnectionError | TimeoutError)


# ---- per file ------------------------------------------------------------------------------


def process_claim(claim: intake.Claim, *, services: IngestServices) -> Outcome:
    """Process one claimed file to its outcome. Raises only for transient faults (retry)."""
    started = time.monotonic()
    source = claim.display_path
    try:
        if claim.refused:
            raise NotRegularFileError(
                f"拒收：不是普通文件（{claim.kind}）",
                kind=claim.kind,
                link_target=claim.link_target,
            )
        already = _already_filed(claim, services=services)
        if already:
            intake.complete(claim)
            return Outcome(
                source, "recovered", claim.sha256, documents=already, seconds=_since(started)
            )
        _refuse_duplicate(claim, services=services)
        normalized: NormalizedFile = services.pool.run(
            normalize_file,
            claim.path,
            params=hinted_params(services.pipeline_params(), claim, services.settings.taxonomy),
            work_dir=claim.claim_dir / "out",
        )
        filed = _file(claim, normalized, services=services)
        intake.complete(claim)
        kind: OutcomeKind = (
            "archived" if all(d.status == "archived" for d in filed) else "needs_review"
        )
        log.info("ingested %s -> %d document(s), %s", source, len(filed), kind)
        return Outcome(
            source,
            kind,
            claim.sha256,
            documents=tuple(filed),
            pages=normalized.page_count,
            seconds=_since(started),
        )
    except Exception as e:  # noqa: BLE001 - the one place a file's exception becomes its outcome
        if is_transient(e):
            raise
        return _quarantined(claim, e, services=services, started=started)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _already_filed(claim: intake.Claim, *, services: IngestServices) -> tuple[FiledDocument, ...]:
    """A run that crashed after its commit left the claim behind: recognize its documents."""
    if claim.recovered_from is None or claim.sha256 is None:
        return ()
    with Session(services.engine) as session:
        rows = session.exec(
            select(Document).where(
                Document.original_sha256 == claim.sha256, Document.claim_id == claim_token(claim)
            )
        ).all()
        return tuple(_filed_of(session, d) for d in rows)


def _filed_of(session: Session, d: Document) -> FiledDocument:
    from models.customer import Customer

    customer = session.get(Customer, d.customer_id) if d.customer_id else None
    return FiledDocument(
        document_id=d.id or 0,
        status=d.status,
        document_type=d.document_type,
        customer_code=customer.code if customer else None,
        pdf_key=d.pdf_key or "",
        original_key=d.original_key or "",
        reasons=tuple(d.review_reasons or ()),
    )


def _refuse_duplicate(claim: intake.Claim, *, services: IngestServices) -> None:
    assert claim.sha256 is not None
    with Session(services.engine) as session:
        for d in repo.find_documents_by_sha256(session, sha256=claim.sha256):
            if d.status != "rejected" and d.original_sha256 == claim.sha256:
                raise DuplicateFileError(
                    f"重复文件：与已归档的资料 #{d.id} 完全相同",
                    existing_document_id=d.id,
                    existing_pdf_key=d.pdf_key,
                )


#: Filing attempts when another worker created the same customer at the same moment.
_FILING_ATTEMPTS = 2


def _file(
    claim: intake.Claim, normalized: NormalizedFile, *, services: IngestServices
) -> list[FiledDocument]:
    """File the normalized parts; once more when a customer this file was about to create was
    created meanwhile by another worker (same USCC or ID number: a ``ConflictError``). The
    second attempt sees that customer and links to it, as if the files had come one by one."""
    for attempt in range(1, _FILING_ATTEMPTS + 1):
        try:
            return _file_once(claim, normalized, services=services)
        except ConflictError as e:
            if attempt == _FILING_ATTEMPTS:
                raise
            log.info("filing %s again: %s was created meanwhile", claim.display_path, e.field)
    raise AssertionError("unreachable")


def _file_once(
    claim: intake.Claim, normalized: NormalizedFile, *, services: IngestServices
) -> list[FiledDocument]:
    with Session(services.engine) as session:
        owner_id = new_customer_owner(session, claim.submitted_by)
        request = filing_request(claim, normalized, run_id=services.run_id, owner_id=owner_id)
        try:
            return file_document(
                session=session,
                store=services.store,
                taxonomy=services.settings.taxonomy,
                request=request,
                policy=services.settings.review_policy,
            )
        except BaseException:
            session.rollback()
            raise


def _quarantined(
    claim: intake.Claim, error: BaseException, *, services: IngestServices, started: float
) -> Outcome:
    if isinstance(error, DossierError):
        known = error
    else:  # a bug of ours: still quarantined with what happened, never a crashed batch
        log.error("unexpected error on %s:\n%s", claim.display_path, traceback.format_exc())
        known = IngestError(f"内部错误：{type(error).__name__}: {error}")
    extra = {k: v for k, v in known.detail.items() if isinstance(v, str | int | float | None)}
    path = quarantine(
        claim,
        quarantine_dir=services.settings.quarantine_dir,
        run_id=services.run_id,
        error=known,
        extra=extra,
    )
    intake.complete(claim)
    shutil.rmtree(claim.claim_dir / "out", ignore_errors=True)
    kind: OutcomeKind = "duplicate" if known.code == ErrorCode.DUPLICATE else "quarantined"
    log.warning("quarantined %s: %s (%s)", claim.display_path, known.code, known.message)
    return Outcome(
        claim.display_path,
        kind,
        claim.sha256,
        reason=str(known.code),
        message=known.message,
        quarantine_path=str(path),
        seconds=_since(started),
    )


# ---- a whole pass --------------------------------------------------------------------------


def gather_claims(
    *, services: IngestServices, settle: bool = True, pulled: Iterable[Path] = ()
) -> list[intake.Claim]:
    """Adopt claims left by crashed runs, then claim every settled intake file, and the files
    just ``pulled`` from the S3 intake at once (dropped whole: nothing to settle)."""
    s = services.settings
    claims = intake.recover_stale_claims(
        work_dir=s.work_dir,
        intake_dir=s.intake_dir,
        run_id=services.run_id,
        max_age_seconds=2 * s.file_timeout_seconds + 60,
    )
    candidates = (
        intake.settled_candidates(s.intake_dir, settle_seconds=s.settle_seconds)
        if settle
        else list(intake.find_candidates(s.intake_dir))
    )
    fresh = set(pulled) - {c.path for c in candidates}
    if fresh:
        candidates += [c for c in intake.find_candidates(s.intake_dir) if c.path in fresh]
    for candidate in candidates:
        try:
            claims.append(intake.claim(candidate, work_dir=s.work_dir, run_id=services.run_id))
        except AlreadyClaimedError:
            continue  # another worker took it
    return claims


def return_for_retry(claim: intake.Claim, error: BaseException) -> Outcome:
    """A transient fault outlived its retries: give the file back to the intake, untouched."""
    intake.return_to_intake(claim)
    log.warning("returned %s to the intake after a transient error: %s", claim.display_path, error)
    return Outcome(
        claim.display_path,
        "retry",
        claim.sha256,
        # e.g. storage_unavailable, so a frozen or down store is named in the outcome
        reason=str(error.code) if isinstance(error, DossierError) else "transient",
        message=f"暂时性错误，已放回收件夹等待下次处理：{error}",
    )


def summarize(outcomes: Iterable[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.kind] = counts.get(o.kind, 0) + 1
    return counts


# ---- running a pass ------------------------------------------------------------------------

#: Rounds of one pass over an S3 intake: each pulls a batch (``pull_s3_intake``), processes
#: it, and pulls again while the prefix has more, so no worker hoards what others could take.
S3_ROUNDS = 100

OnDone = Callable[[intake.Claim, "Outcome | BaseException"], None]
Executor = Callable[[Sequence[intake.Claim], OnDone], None]


@dataclass(frozen=True)
class RunReport:
    run_id: str
    outcomes: tuple[Outcome, ...]
    counts: dict[str, int]
    relink: dict[str, object] | None = None
    s3_intake: dict[str, object] | None = None  # the S3 intake's pull (app.s3_intake)
    stopped: bool = False  #: a stop was requested during the pass (app.shutdown)

    def as_dict(self) -> dict[str, object]:
        record: dict[str, object] = {
            "run_id": self.run_id,
            "counts": self.counts,
            "files": [o.as_dict() for o in self.outcomes],
            "relink": self.relink,
            "stopped": self.stopped,
        }
        if self.s3_intake is not None:
            record["s3_intake"] = self.s3_intake
        return record


def thread_executor(services: IngestServices) -> Executor:
    """Process claims on a bounded thread pool; the heavy work runs in the isolated workers."""

    def execute(claims: Sequence[intake.Claim], on_done: OnDone) -> None:
        with ThreadPoolExecutor(max_workers=services.settings.workers) as pool:
            futures = {pool.submit(process_claim, c, services=services): c for c in claims}
            for future in as_completed(futures):
                claim = futures[future]
                try:
                    on_done(claim, future.result())
                except Exception as e:  # noqa: BLE001 - transient: handed back below
                    on_done(claim, e)

    return execute


def _process_rounds(
    services: IngestServices,
    *,
    settle: bool,
    execute: Executor | None,
    on_claims: Callable[[int], None] | None,
    on_done: OnDone,
    s3: S3IntakePass,
) -> bool:
    """Claim and process; with an S3 intake, pull a batch first and go on while it has more.
    Returns whether a stop was requested.

    Once a stop is requested (SIGTERM/SIGINT or the stop file, :mod:`app.shutdown`) no new file
    is pulled or claimed; files in progress finish within ``shutdown_grace_seconds``, then are
    interrupted and handed back.
    """
    grace = services.settings.shutdown_grace_seconds
    with graceful_stop(grace, on_deadline=services.pool.interrupt) as stop, s3:
        stop.on_request(services.pool.drain)
        _rounds(services, settle, execute, on_claims, on_done, lambda: stop.requested, s3)
        return stop.requested


def _rounds(
    services: IngestServices,
    settle: bool,
    execute: Executor | None,
    on_claims: Callable[[int], None] | None,
    on_done: OnDone,
    stopping: Callable[[], bool],
    s3: S3IntakePass,
) -> None:
    claimed = 0
    for _ in range(S3_ROUNDS):  # one round without an S3 intake
        if stopping():
            if on_claims and not claimed:
                on_claims(0)
            break
        claims = gather_claims(services=services, settle=settle, pulled=s3.pull())
        claimed += len(claims)
        if on_claims:
            on_claims(claimed)
        (execute or thread_executor(services))(claims, on_done)
        if not s3.more:
            break


def run_pass(
    services: IngestServices,
    *,
    settle: bool = True,
    execute: Executor | None = None,
    on_claims: Callable[[int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> RunReport:
    """One pass over the intake: adopt stale claims, claim settled files, process, record.

    Args:
        services: Built once per run.
        settle: Take only files unchanged for ``settle_seconds`` (False: everything now).
        execute: How to run ``process_claim`` over the claims (threads by default; the Prefect
            flow passes task runs).
        on_claims: Told how many files were claimed (for a progress bar).
        on_outcome: Told each outcome as it is known.
    """
    with Session(services.engine) as session:
        repo.start_ingest_run(session, run_id=services.run_id, host=socket.gethostname())
        session.commit()
    outcomes: list[Outcome] = []
    status = "succeeded"
    relinked: dict[str, object] | None = None
    s3 = S3IntakePass(services.settings, services.engine, services.run_id)
    stopped = False
    try:

        def on_done(claim: intake.Claim, result: Outcome | BaseException) -> None:
            outcome = result if isinstance(result, Outcome) else return_for_retry(claim, result)
            s3.settle(claim.sha256, outcome.kind)  # filed or quarantined: delete the S3 object
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)

        stopped = _process_rounds(
            services, settle=settle, execute=execute, on_claims=on_claims, on_done=on_done, s3=s3
        )
        relinked = after_pass(services, outcomes)
    except BaseException:
        status = "failed"
        raise
    finally:
        counts = summarize(outcomes)
        with Session(services.engine) as session:
            repo.finish_ingest_run(session, run_id=services.run_id, status=status, counts=counts)
            session.commit()
    return RunReport(
        services.run_id,
        tuple(outcomes),
        counts,
        relinked,
        s3.report.as_dict() if s3.report else None,
        stopped=stopped,
    )
