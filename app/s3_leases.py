"""Holding the shared S3 intake's claim rows (``models.intake_pull``) for as long as they are
worked on: a heartbeat, and who is known to be gone.

:class:`LeaseKeeper` renews the heartbeat of every row the pass holds, from a thread, every
quarter of ``intake_s3_claim_timeout_seconds``: while an object downloads (however slowly) and
while its file waits in the local intake and is filed. So only a worker that stopped beating
(killed, its machine lost, cut off from the database) is adopted by the others.

:func:`holder_gone` tells a row whose holder is known dead without waiting for the timeout: a
process of this host that no longer exists, or a finished pass of this very process (``dossier
ingest --watch`` runs pass after pass in one process). A new pass on the same machine resumes
such rows at once (``app.s3_intake``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from types import TracebackType

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from ingest.intake import pid_alive
from models import repo
from models.intake_pull import IntakePull

log = logging.getLogger("dossier.s3_intake")

#: Worker names (``app.s3_intake.worker_name``) of the passes running in this process.
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()
_MIN_INTERVAL = 0.05


def this_host() -> str:
    """The host part of a worker name."""
    return socket.gethostname()[:120]


def holder_gone(worker: str) -> bool:
    """Whether the holder named ``worker`` (``host:pid:run``) is known to be gone: on this
    host, its process is dead, or it is this process and that pass is over. Unknown (another
    host, another naming): False, the claim timeout decides."""
    host, _, rest = worker.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != this_host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        with _ACTIVE_LOCK:
            return worker not in _ACTIVE
    return not pid_alive(pid)


class LeaseKeeper:
    """The rows one pass holds, their heartbeat renewed from a thread while it is entered."""

    def __init__(self, engine: Engine, *, worker: str, timeout: float) -> None:
        self.engine = engine
        self.worker = worker
        self.interval = max(_MIN_INTERVAL, timeout / 4)
        self._rows: dict[int, IntakePull] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, row: IntakePull) -> None:
        """Beat for ``row`` (held under its current lease) until :meth:`let_go`."""
        assert row.id is not None
        with self._lock:
            self._rows[row.id] = row

    def let_go(self, row: IntakePull) -> None:
        with self._lock:
            self._rows.pop(row.id or 0, None)

    def pulled(self, sha256: str) -> list[IntakePull]:
        """Held rows whose bytes (handed in to this worker's intake) have this digest."""
        with self._lock:
            return [r for r in self._rows.values() if r.state == "pulled" and r.sha256 == sha256]

    def held(self) -> list[IntakePull]:
        with self._lock:
            return list(self._rows.values())

    def beat(self) -> None:
        """Renew every held row's heartbeat now; forget the rows another worker took over."""
        with self._lock:
            pairs = [(row_id, row.lease) for row_id, row in self._rows.items()]
        if not pairs:
            return
        try:
            with Session(self.engine) as session:
                kept = repo.renew_intake_pulls(session, held=pairs)
                session.commit()
        except SQLAlchemyError as e:  # the next beat tries again; past the timeout, adopted
            log.warning("s3 intake: heartbeat of %s failed: %s", self.worker, type(e).__name__)
            return
        log.debug("s3 intake: heartbeat of %s: %d of %d row(s)", self.worker, len(kept), len(pairs))
        with self._lock:
            for row_id, lease in pairs:
                row = self._rows.get(row_id)
                if row_id not in kept and row is not None and row.lease == lease:
                    log.warning("s3 intake: %s was taken over by another worker", row.object_key)
                    del self._rows[row_id]

    def __enter__(self) -> LeaseKeeper:
        with _ACTIVE_LOCK:
            _ACTIVE.add(self.worker)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"s3-intake-heartbeat-{self.worker}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop beating. Rows still held (a file handed back after an outage, a stop) stay
        open: the next pass on this machine resumes them; lost for good, others adopt them."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with _ACTIVE_LOCK:
            _ACTIVE.discard(self.worker)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - the heartbeat thread never dies of one beat
                log.exception("s3 intake: heartbeat of %s failed", self.worker)


__all__ = ["LeaseKeeper", "holder_gone", "this_host"]
