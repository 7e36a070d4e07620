"""The shared S3 intake when workers die or crawl (app.s3_intake, app.s3_leases): an object is
deleted from S3 only once its file is filed, so a worker killed after pulling (its machine lost
for good) loses nothing; a slow download keeps its claim by its heartbeat.

Real S3 protocol (the moto server over HTTP, a throttling TCP proxy for the slow link), real
databases (SQLite and PostgreSQL), real worker processes killed with ``os._exit`` at the step
under test, real filing (tesseract).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.intake_pass import run_pass
from app.s3_intake import PullReport
from archive.storage import LocalObjectStore, ObjectStore
from config import Settings
from models.document import Document
from tests.fixtures.ingest import (
    CRASH_EXIT_CODE,
    REPO_ROOT,
    TEST_SETTINGS,
    drop_sample,
    open_services,
    run_child_pass,
    work_claims,
)
from tests.fixtures.s3 import TEST_REGION, throttled_proxy
from tests.fixtures.s3_intake import PREFIX
from tests.integration.test_s3_intake import _left_in_s3, _pull, _put, _rows, _sha, _visible

pytest_plugins = ["tests.fixtures.s3_intake"]


# ---- a long download keeps its claim --------------------------------------------------------


def test_a_slow_download_keeps_its_claim_by_its_heartbeat(
    engine: Engine,
    worker_settings: Callable[..., Settings],
    prefix_store: ObjectStore,
    s3_client: Any,
    bucket: str,
    s3_endpoint_url: str,
) -> None:
    """A large object over a slow link takes several claim timeouts to download: the holder's
    heartbeat keeps its claim, and a second worker looking meanwhile leaves it alone.

    (The timeout is 3 s, not less: with the S3 server, both workers and the slow link in one
    Python process, a heartbeat thread was seen waiting 1.4 s for its turn on a loaded machine.)
    """
    timeout = 3.0
    data = os.urandom(3 * 1024 * 1024)  # 3 MiB at 384 KiB/s: 8 s, over two timeouts
    _put(s3_client, bucket, "large-scan.pdf", data)
    quick = worker_settings("quick", intake_s3_claim_timeout_seconds=timeout)
    result: dict[str, PullReport] = {}
    looks: list[dict[str, int]] = []
    with throttled_proxy(s3_endpoint_url, bytes_per_second=384 * 1024) as slow_link:
        slow = worker_settings(
            "slow", s3_endpoint_url=slow_link, intake_s3_claim_timeout_seconds=timeout
        )
        puller = threading.Thread(
            target=lambda: result.update(report=_pull(slow, engine, "slow-worker"))
        )
        started = time.monotonic()
        puller.start()
        while puller.is_alive():
            time.sleep(0.5)
            if time.monotonic() - started > timeout + 0.5:  # a silent holder is adopted now
                looks.append(_pull(quick, engine, "quick-worker", store=prefix_store).counts())
        puller.join()
        took = time.monotonic() - started
    assert took > 2 * timeout, f"the download took {took:.1f} s: not slow enough to test"
    assert looks and all(c == {} for c in looks), looks
    assert result["report"].counts() == {"pulled": 1}
    (row,) = _rows(engine)
    assert (row.state, row.worker, row.adopted_from) == ("pulled", "slow-worker", None)
    assert _visible(slow) == {"large-scan.pdf": data} and _visible(quick) == {}


# ---- a worker process that really dies ------------------------------------------------------

_DOOMED_WORKER = """
import json, os, sys
from sqlalchemy import event
from app.s3_intake import pull_s3_intake, worker_name
from archive.storage import store_from_settings
from config import load_settings
from models.db import make_engine

config = json.loads(sys.argv[1])
settings = load_settings(**config["settings"])
settings.ensure_dirs()
engine = make_engine(settings.database_url)
store = store_from_settings(settings, url=settings.intake_s3_url)
if config["crash"] == "before_pulled":  # handed in, dying before the row says so

    @event.listens_for(engine, "before_cursor_execute")
    def die(conn, cursor, statement, params, context, executemany):
        if statement.startswith("UPDATE intake_pull") and "'pulled'" in repr(params):
            os._exit(86)

pull_s3_intake(settings=settings, engine=engine, worker=worker_name("doomed"), store=store)
os._exit(86)  # after_pull: everything handed in and recorded, nothing filed yet
"""


@pytest.mark.parametrize("crash", ["after_pull", "before_pulled"])
def test_a_killed_worker_is_adopted_and_its_objects_stay_until_filed(
    crash: str,
    db_url: str,
    engine: Engine,
    worker_settings: Callable[..., Settings],
    s3_client: Any,
    bucket: str,
    s3_endpoint_url: str,
    tmp_path: Path,
) -> None:
    """A worker killed after pulling (its machine lost with the files): every object is still
    in S3; another worker adopts the claims after the timeout and pulls them again."""
    objects = {f"page-{n}.pdf": f"page {n}".encode() for n in range(3)}
    for name, data in objects.items():
        _put(s3_client, bucket, name, data)
    config = {
        "crash": crash,
        "settings": {
            "home": str(tmp_path / "doomed"),
            "database_url": db_url,
            "intake_s3_url": f"s3://{bucket}/{PREFIX}/",
            "s3_endpoint_url": s3_endpoint_url,
            "s3_region": TEST_REGION,
        },
    }
    child = subprocess.run(
        [sys.executable, "-c", _DOOMED_WORKER, json.dumps(config)],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 86, child.stderr[-2000:]
    doomed = worker_settings("doomed")
    rows = _rows(engine)
    if crash == "after_pull":
        assert len(rows) == 3 and {r.state for r in rows} == {"pulled"}
        assert _visible(doomed) == objects
    else:  # it died on its first object
        assert [r.state for r in rows] == ["claimed"]
        assert list(_visible(doomed).values()) == [objects[rows[0].object_key]]
    assert len(_left_in_s3(s3_client, bucket)) == 3  # nothing deleted before it is filed

    live = worker_settings("live", intake_s3_claim_timeout_seconds=0.5)
    time.sleep(1.0)  # the dead worker's heartbeat is now older than the timeout
    assert _pull(live, engine, "live").counts() == {"pulled": 3}
    assert len(_left_in_s3(s3_client, bucket)) == 3
    rows = _rows(engine)
    assert {(r.state, r.worker) for r in rows} == {("pulled", "live")} and len(rows) == 3
    assert _visible(live) == objects
    assert list((Path(live.work_dir) / "s3-intake").iterdir()) == []  # type: ignore[arg-type]


def _scan_in_s3(s3_client: Any, bucket: str, scratch: Path, *, seed: int) -> tuple[str, str]:
    path = drop_sample(scratch, f"scan-{seed}.png", "business_license", seed=seed)
    _put(s3_client, bucket, f"scanner/{path.name}", path.read_bytes())
    return f"scanner/{path.name}", _sha(path.read_bytes())


def _filed(engine: Engine, sha256: str) -> list[Document]:
    with Session(engine) as session:
        return list(session.exec(select(Document).where(Document.original_sha256 == sha256)))


@pytest.mark.parametrize("crash", ["put:1", "commit"])
def test_killed_between_pull_and_filing_another_worker_files_once(
    crash: str,
    db_url: str,
    engine: Engine,
    worker_settings: Callable[..., Settings],
    s3_client: Any,
    bucket: str,
    s3_endpoint_url: str,
    tmp_path: Path,
) -> None:
    """A worker pulls a scan and is killed while filing it (``put:1``: after storing the
    original, before the commit; ``commit``: right after the commit, before the object is
    deleted), its machine lost. The object is still in S3; after the claim timeout another
    worker takes it over: files it (``put:1``) or only deletes it (``commit``): filed once."""
    key, sha = _scan_in_s3(s3_client, bucket, tmp_path / "scratch", seed=7)
    archive = tmp_path / "archive"
    shared = {
        "intake_s3_url": f"s3://{bucket}/{PREFIX}/",
        "s3_endpoint_url": s3_endpoint_url,
        "s3_region": TEST_REGION,
        "ocr_engine": "tesseract",
    }
    child = run_child_pass(
        home=tmp_path / "doomed", database_url=db_url,
        store_spec={"kind": "local", "root": str(archive)}, crash=crash, **shared,
    )  # fmt: skip
    assert child.returncode == CRASH_EXIT_CODE, child.stderr[-3000:]
    (row,) = _rows(engine)
    assert (row.state, row.sha256) == ("pulled", sha)
    assert _left_in_s3(s3_client, bucket) == [f"{PREFIX}/{key}"]
    assert len(_filed(engine, sha)) == (1 if crash == "commit" else 0)

    live = worker_settings(
        "live", **TEST_SETTINGS, ocr_engine="tesseract", intake_s3_claim_timeout_seconds=0.5
    )
    time.sleep(1.0)
    store = LocalObjectStore(archive)
    with open_services(settings=live, engine=engine, store=store) as services:
        report = run_pass(services, settle=True)
    assert report.s3_intake is not None
    if crash == "commit":  # filed already: only the delete was missing
        assert report.s3_intake["counts"] == {"finished": 1} and report.outcomes == ()
    else:
        assert report.s3_intake["counts"] == {"pulled": 1}
        assert [o.kind for o in report.outcomes] in (["archived"], ["needs_review"])
    assert len(_filed(engine, sha)) == 1
    assert _left_in_s3(s3_client, bucket) == []
    assert [r.state for r in _rows(engine)] == ["done"]
    assert _visible(live) == {}


def test_a_restarted_worker_resumes_its_own_pulled_files_at_once(
    db_url: str,
    engine: Engine,
    worker_settings: Callable[..., Settings],
    s3_client: Any,
    bucket: str,
    s3_endpoint_url: str,
    tmp_path: Path,
) -> None:
    """Killed while filing a pulled scan, the same machine's next pass (a new process, the
    default claim timeout of 15 minutes) resumes the row at once: the scan is recovered from
    the dead pass's claim, filed once, and only then deleted from S3."""
    key, sha = _scan_in_s3(s3_client, bucket, tmp_path / "scratch", seed=8)
    archive = tmp_path / "archive"
    shared = {
        "intake_s3_url": f"s3://{bucket}/{PREFIX}/",
        "s3_endpoint_url": s3_endpoint_url,
        "s3_region": TEST_REGION,
        "ocr_engine": "tesseract",
    }
    child = run_child_pass(
        home=tmp_path / "same", database_url=db_url,
        store_spec={"kind": "local", "root": str(archive)}, crash="put:1", **shared,
    )  # fmt: skip
    assert child.returncode == CRASH_EXIT_CODE, child.stderr[-3000:]
    assert _left_in_s3(s3_client, bucket) == [f"{PREFIX}/{key}"]
    restarted = worker_settings("same", **TEST_SETTINGS, ocr_engine="tesseract")
    assert restarted.intake_s3_claim_timeout_seconds == 900
    with open_services(settings=restarted, engine=engine, store=LocalObjectStore(archive)) as sv:
        report = run_pass(sv, settle=True)
    assert report.s3_intake is not None and report.s3_intake["counts"] == {"resumed": 1}
    assert [o.kind for o in report.outcomes] in (["archived"], ["needs_review"])
    assert len(_filed(engine, sha)) == 1
    assert _left_in_s3(s3_client, bucket) == []
    (row,) = _rows(engine)
    assert row.state == "done" and row.adopted_from is not None
    assert work_claims(restarted) == [] and _visible(restarted) == {}
