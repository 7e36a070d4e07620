"""Customer imports on the web run in a background thread; the page polls their progress.

The dry run (预检) and the import itself each start a job: a thread running
:func:`archive.exchange.importing.import_file` in its own database session, keeping in this
process's memory how many rows are done of how many and, at the end, the report or the
refusal. The page polls :meth:`ImportJob.progress` as JSON and shows the report once the job has
finished. A user runs one import at a time; finished jobs are forgotten after
:data:`KEEP_SECONDS`. The jobs live in one server process: run the web app as one process
(``dossier web`` does).

While the job runs, its page and progress read no database: on SQLite the import holds the
write lock until it ends, and every request that opens a transaction waits for it. They are
opened by the signed session cookie naming the job (:func:`remember`, :func:`find_in`); the
result page afterwards checks the signed-in user as usual (:func:`find`).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from app.context import AppContext
from archive.errors import ImportRefusedError
from archive.exchange.importing import ImportReport, import_file
from archive.exchange.template import write_rejects
from config.errors import http_status
from models.user import User
from web.exchange_view import rejects_path, staged_path

log = logging.getLogger(__name__)

KEEP_SECONDS = 3600
SESSION_JOB = "import_job"
INTERNAL = "导入时发生内部错误，未写入任何数据，请稍后重试"
_JOBS: dict[str, ImportJob] = {}
_LOCK = threading.Lock()


@dataclass
class ImportJob:
    """One import on the web: ``phase`` is reading (counting rows), running, done or failed."""

    id: str
    user: User  # a detached copy (name and role) for the page while the job runs
    staged: dict[str, str]
    dry_run: bool
    partial: bool
    phase: str = "reading"
    done: int = 0
    total: int = 0
    report: ImportReport | None = None
    error: str | None = None
    status: int = 200
    finished_at: float | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.phase in ("done", "failed")

    def progress(self) -> dict[str, Any]:
        """What the page's progress bar shows (the JSON the page polls)."""
        return {"id": self.id, "phase": self.phase, "done": self.done, "total": self.total,
                "finished": self.finished, "dry_run": self.dry_run}  # fmt: skip

    def wait(self, seconds: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(seconds)


def running_for(user: User) -> ImportJob | None:
    """The user's import still running, if any."""
    with _LOCK:
        return next((j for j in _JOBS.values() if j.user.id == user.id and not j.finished), None)


def find(job_id: str, user: User) -> ImportJob | None:
    """The job ``job_id`` if ``user`` started it."""
    with _LOCK:
        job = _JOBS.get(job_id)
    return job if job is not None and job.user.id == user.id else None


def remember(session: dict[str, Any], job: ImportJob) -> None:
    """Name ``job`` in the signed session cookie (what :func:`find_in` asks for)."""
    session[SESSION_JOB] = job.id


def find_in(session: dict[str, Any], job_id: str) -> ImportJob | None:
    """The job ``job_id`` if the signed session cookie names it (no database read)."""
    if session.get(SESSION_JOB) != job_id:
        return None
    with _LOCK:
        return _JOBS.get(job_id)


def start(
    context: AppContext, user: User, staged: dict[str, str], *, dry_run: bool, partial: bool
) -> ImportJob:
    """Start importing the staged file as ``user`` in a background thread."""
    copy = User(id=user.id, username=user.username, display_name=user.display_name,
                role=user.role, is_active=user.is_active, password_hash="")  # fmt: skip
    job = ImportJob(secrets.token_urlsafe(12), copy, dict(staged), dry_run, partial)
    with _LOCK:
        cutoff = time.time() - KEEP_SECONDS
        for old in [j for j in _JOBS.values() if j.finished_at and j.finished_at < cutoff]:
            _JOBS.pop(old.id, None)
        _JOBS[job.id] = job
    job.thread = threading.Thread(
        target=_run, args=(context, job), name=f"import-{job.id[:6]}", daemon=True
    )
    job.thread.start()
    return job


def _run(context: AppContext, job: ImportJob) -> None:
    settings = context.settings
    path = staged_path(settings, job.staged)

    def progress(done: int, total: int) -> None:
        job.phase, job.done, job.total = "running", done, total

    try:
        if path is None:
            raise ImportRefusedError("没有待导入的文件（可能已导入或已过期），请重新上传")
        with Session(context.engine, expire_on_commit=False) as session:
            actor = session.get(User, job.user.id)
            if actor is None:
                raise ImportRefusedError("用户不存在")
            report = import_file(session, settings, actor, path, partial=job.partial,
                                 dry_run=job.dry_run, progress=progress)  # fmt: skip
        if report.committed:
            if report.rejected:
                write_rejects(rejects_path(settings, job.staged), report.rejected)
            path.unlink(missing_ok=True)
        job.report, job.phase = report, "done"
    except ImportRefusedError as e:
        if job.dry_run and path is not None:
            path.unlink(missing_ok=True)
        job.error, job.status, job.phase = e.message, http_status(e), "failed"
    except Exception:  # noqa: BLE001  (the page must learn the job ended; the log has why)
        log.exception("customer import %s failed", job.id)
        job.error, job.status, job.phase = (
            "导入时发生内部错误，未写入任何数据，请稍后重试",
            500,
            "failed",
        )
    finally:
        job.finished_at = time.time()
