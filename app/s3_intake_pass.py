"""The shared S3 intake over one intake pass (``app.intake_pass.run_pass``): its rows'
heartbeat for the whole pass, a batch pulled per round, and each row finished once its file's
outcome is known (:mod:`app.s3_intake`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from app.s3_intake import PullReport, pull_s3_intake, settle_pulled, worker_name
from app.s3_leases import LeaseKeeper
from archive.storage import ObjectStore, store_from_settings
from config import Settings


class S3IntakePass:
    """The S3 intake over one intake pass (``app.intake_pass``): entered, its rows' heartbeat
    beats; :meth:`pull` takes a batch per round; :meth:`settle` finishes each row whose file's
    outcome is known. Without ``intake_s3_url`` every call is a no-op."""

    def __init__(self, settings: Settings, engine: Engine, run_id: str) -> None:
        self.settings = settings
        self.engine = engine
        self.worker = worker_name(run_id)
        timeout = settings.intake_s3_claim_timeout_seconds
        self.leases = LeaseKeeper(engine, worker=self.worker, timeout=timeout)
        self.report: PullReport | None = None
        self._store: ObjectStore | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.settings.intake_s3_url)

    @property
    def more(self) -> bool:
        """The last round stopped at its batch: the prefix has more."""
        return self.report is not None and self.report.more

    def __enter__(self) -> S3IntakePass:
        if self.enabled:
            self._store = store_from_settings(self.settings, url=self.settings.intake_s3_url)
            self.leases.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.leases.__exit__(None, None, None)

    def pull(self) -> list[Path]:
        """One round: pull a batch; the files just handed in (to claim at once)."""
        if not self.enabled:
            return []
        self.report = pull_s3_intake(
            settings=self.settings, engine=self.engine, worker=self.worker, store=self._store,
            into=self.report, leases=self.leases,
        )  # fmt: skip
        return list(self.report.fresh) if self.report else []

    def settle(self, sha256: str | None, kind: str) -> None:
        """A file's outcome is known: unless handed back (``retry``), finish its rows."""
        if not self.enabled or self._store is None or not sha256 or kind == "retry":
            return
        settle_pulled(
            settings=self.settings, engine=self.engine, store=self._store, leases=self.leases,
            sha256=sha256,
        )  # fmt: skip


__all__ = ["S3IntakePass"]
