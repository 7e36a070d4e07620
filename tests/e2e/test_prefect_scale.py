"""Scaling out on Prefect (issue 14, item 6): a Prefect server on PostgreSQL, ``dossier deploy
--pool``, two real ``prefect worker start --pool`` processes sharing one dossier database on
PostgreSQL, one S3-protocol store (moto over HTTP) for the archive and one S3 intake prefix.

100 small scans (``SMALL_DPI``, tesseract engine; ``DOSSIER_TEST_SCALE_SCANS`` for another
number) are dropped into the S3 intake and the ``ingest-intake/intake`` deployment is run (one
run kept waiting for whichever worker is free; each worker's run pulls 4 files a round until the
prefix is empty) until every scan is filed: each input is filed exactly once, every
``intake_pull`` row is ``done``, nothing is left in the prefix and ``dossier check`` exits 0
with no finding at all (no scan prints an end of validity past or within 60 days). In the second
variant one worker and every process under it (its flow run, the OCR workers) is killed with
SIGKILL halfway: its claims are adopted after a short ``intake_s3_claim_timeout_seconds``, every
scan is still filed exactly once, and after ``dossier check --repair`` (what the killed worker
stored before its commit moved under ``lost+found/``) ``dossier check`` exits 0.

Every process started here is stopped (the whole tree), and both databases are dropped.

Measured on the shared 2-core build machine, 2026-12-07 05:28-05:48 UTC, load average 3.7-7.3
from other jobs (the whole file 19 min 40 s): scans made once for both variants 36 s; per
variant the Prefect server 23-25 s, ``init`` 7-8 s, ``deploy`` 18-19 s; first document 49-56 s
after the workers' start; 100 scans filed in 440 s (48 and 52 per worker) and, with worker ``a``
killed after 50 filings, in 530 s (worker ``b`` alone for the second half). Each worker runs one
flow run for the whole batch (no per-file run), so the time is the scans' own: about 2.5-3 CPU-s
of tesseract per page (orientation detection and recognition about half each, four code
re-reads more on a licence) and 1-1.5 CPU-s more across the flow run, the Prefect server,
PostgreSQL and the S3 server, i.e. about 200 s for 100 scans on two free cores. Run again
at 05:52 with the machine otherwise idle (load 2.0-3.2, the test's own): server 14 s, ``init``
5 s, ``deploy`` 9 s, first document 35 s, 100 scans filed in 259 s (5 min 36 s for the test).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from archive.integrity.document_checks import EXPIRY_FIELDS
from bench.samples import Sample, generate, write_sample
from config.clock import china_date
from tests.e2e.test_prefect_ops import PREFECT
from tests.e2e.test_serve import DOSSIER
from tests.fixtures.db import _pg_url, create_pg_database, drop_pg_database, pg_admin_dsn
from tests.fixtures.ingest import REPO_ROOT, SMALL_DPI, sha256_path
from tests.fixtures.s3 import TEST_REGION

#: Scans per variant (the measured durations: module docstring, docs/deploy.md).
SCANS = int(os.environ.get("DOSSIER_TEST_SCALE_SCANS", "100"))
KINDS = ("id_card", "bank_permit", "business_license")
INTAKE = "intake"
POOL = "dossier-scale"
CLAIM_TIMEOUT = 15  # seconds: how soon a killed worker's claims are adopted
#: No scan prints an end of validity closer than this to today, or past: ``dossier check``
#: warns of those (``expiry_warning_days``, 30 by default), and it must find nothing here.
DATE_MARGIN_DAYS = 60


# ---- processes -----------------------------------------------------------------------------


def _tree(root: int) -> list[int]:
    """``root`` and its live descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [root], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc`` and everything under it: frozen first (SIGSTOP), so that nothing
    escapes by forking meanwhile."""
    frozen: set[int] = set()
    while pids := set(_tree(proc.pid)) - frozen:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        frozen |= pids
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _stop_tree(proc: subprocess.Popen[bytes], *, grace: float) -> None:
    """SIGTERM the process's group, then SIGKILL whatever of its tree (as it was before: a
    child in its own session outlives its parent) is left after ``grace``."""
    before = _tree(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    for pid in {p for root in before[1:] for p in _tree(root)}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        _kill_tree(proc)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "PREFECT_"))}
    return env | {
        "PYTHONPATH": str(REPO_ROOT),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "OMP_THREAD_LIMIT": "1",
    }


def _get_json(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


@contextlib.contextmanager
def _prefect_server_on_postgresql(tmp_path: Path) -> Iterator[str]:
    """A Prefect server on a throw-away PostgreSQL database; yields its API URL."""
    database = create_pg_database()
    conninfo = psycopg.conninfo.make_conninfo(pg_admin_dsn(), dbname=database)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    port = _free_port()
    env = _clean_env() | {
        "PREFECT_HOME": str(tmp_path / "prefect-server"),
        "PREFECT_API_DATABASE_CONNECTION_URL": _pg_url(database).replace("+psycopg", "+asyncpg"),
        "PREFECT_UI_ENABLED": "false",
    }
    log_path = tmp_path / "prefect-server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        api = f"http://127.0.0.1:{port}/api"
        try:
            deadline = time.monotonic() + 180
            while not _healthy(api):
                assert server.poll() is None, log_path.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "the Prefect server did not come up"
                time.sleep(1)
            yield api
        finally:
            _stop_tree(server, grace=30)
            drop_pg_database(database)


def _healthy(api: str) -> bool:
    try:
        return _get_json(f"{api}/health") is True
    except OSError:
        return False


# ---- the cluster ---------------------------------------------------------------------------


@dataclass
class Cluster:
    tmp_path: Path
    api: str
    shared: dict[str, str]
    dossier_db: str
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    deployment_id: str = ""
    runs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  #: seconds per step (printed)

    def env(self, name: str) -> dict[str, str]:
        home = self.tmp_path / name
        return (
            _clean_env()
            | self.shared
            | {
                "DOSSIER_HOME": str(home),
                "PREFECT_HOME": str(home / "prefect"),
                "PREFECT_API_URL": self.api,
            }
        )

    def dossier(self, name: str, *args: str, api: bool = True) -> subprocess.CompletedProcess[str]:
        env = self.env(name)
        if not api:
            env.pop("PREFECT_API_URL")
        return subprocess.run(
            [DOSSIER, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
        )

    def start_worker(self, name: str) -> None:
        log = (self.tmp_path / f"worker-{name}.log").open("wb")
        self.workers[name] = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", POOL, "--name", name, "--limit", "1"],
            env=self.env(name), cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    def keep_a_run_waiting(self) -> None:
        """Create a run of the intake deployment unless one is waiting for a free worker."""
        if self.runs:
            mine = _get_json(
                f"{self.api}/flow_runs/filter", {"flow_runs": {"id": {"any_": self.runs}}}
            )
            if any(r["state_type"] == "SCHEDULED" for r in mine):
                return
        run = _get_json(f"{self.api}/deployments/{self.deployment_id}/create_flow_run", {})
        self.runs.append(run["id"])

    def run_states(self) -> Counter[str]:
        mine = _get_json(f"{self.api}/flow_runs/filter", {"flow_runs": {"id": {"any_": self.runs}}})
        return Counter(r["state_type"] for r in mine)

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}"
            for p in sorted(self.tmp_path.glob("worker-*.log"))
        )


@contextlib.contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    timings[name] = time.monotonic() - started


def _query(url: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return list(conn.execute(statement).fetchall())


def _taxonomy_without_checklists(tmp_path: Path) -> Path:
    """The shipped taxonomy with no required documents per customer type: the checklist
    (资料清单) would report every customer of these single synthetic scans as incomplete, a
    warning about the customers' papers, not about the archive's integrity."""
    text = (REPO_ROOT / "config" / "taxonomy.toml").read_text(encoding="utf-8")
    text, changed = re.subn(r"(?m)^required_documents = \[.*\]$", "required_documents = []", text)
    assert changed >= 2
    path = tmp_path / "taxonomy.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def cluster(
    tmp_path: Path, s3_endpoint_url: str, s3_bucket: str, aws_credentials: None
) -> Iterator[Cluster]:
    """A Prefect server on PostgreSQL, the dossier database on PostgreSQL, the archive and the
    intake prefix on the S3 server, ``dossier init`` and ``dossier deploy --pool`` done; the
    test starts the workers. Everything stopped and dropped afterwards."""
    dossier_db = create_pg_database()
    shared = {
        "DOSSIER_TAXONOMY_FILE": str(_taxonomy_without_checklists(tmp_path)),
        "DOSSIER_DATABASE_URL": _pg_url(dossier_db),
        "DOSSIER_STORAGE_URL": f"s3://{s3_bucket}/archive",
        "DOSSIER_INTAKE_S3_URL": f"s3://{s3_bucket}/{INTAKE}/",
        "DOSSIER_S3_ENDPOINT_URL": s3_endpoint_url,
        "DOSSIER_S3_REGION": TEST_REGION,
        "DOSSIER_INTAKE_S3_CLAIM_TIMEOUT_SECONDS": str(CLAIM_TIMEOUT),
        "DOSSIER_OCR_ENGINE": "tesseract",
        "DOSSIER_TARGET_DPI": str(SMALL_DPI),
        "DOSSIER_WORKERS": "1",
        "DOSSIER_INGEST_INTERVAL_SECONDS": "86400",  # the test starts the runs
        "DOSSIER_SHUTDOWN_GRACE_SECONDS": "5",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    try:
        started = time.monotonic()
        with _prefect_server_on_postgresql(tmp_path) as api:
            c = Cluster(tmp_path=tmp_path, api=api, shared=shared, dossier_db=dossier_db)
            c.timings["server"] = time.monotonic() - started
            with _timed(c.timings, "init"):
                init = c.dossier("admin", "init", "--json", api=False)
            assert init.returncode == 0, init.stderr[-3000:]
            with _timed(c.timings, "deploy"):
                deployed = c.dossier("admin", "deploy", "--pool", POOL, "--json")
            assert deployed.returncode == 0, deployed.stderr[-3000:]
            rows = {r["deployment"]: r for r in json.loads(deployed.stdout)}
            c.deployment_id = rows["ingest-intake/intake"]["id"]
            try:
                yield c
            finally:
                for worker in c.workers.values():
                    _stop_tree(worker, grace=20)
    finally:
        drop_pg_database(dossier_db)


def _lasting(sample: Sample, *, today: date) -> bool:
    """Whether the end of validity the scan prints (an ID card's, a licence's), if any, is
    more than ``DATE_MARGIN_DAYS`` after ``today``."""
    name = EXPIRY_FIELDS.get(sample.kind)
    end = sample.truth["fields"].get(name) if name else None
    return end is None or date.fromisoformat(end) > today + timedelta(days=DATE_MARGIN_DAYS)


@dataclass(frozen=True)
class Scan:
    name: str  #: e.g. ``007-id_card.png``
    path: Path
    sha256: str


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> list[Scan]:
    """``SCANS`` distinct small scans, made once for both variants, none printing an end of
    validity past or near (``_lasting``: seeds whose dates do not are skipped)."""
    folder = tmp_path_factory.mktemp("scans")
    made: list[Scan] = []
    today, seed, started = china_date(), 1000, time.monotonic()
    while len(made) < SCANS:
        n = len(made)
        kind = KINDS[n % len(KINDS)]
        sample = generate(kind, seed=seed, dpi=SMALL_DPI)
        seed += 1
        if _lasting(sample, today=today):
            path = write_sample(sample, folder / f"{n:03d}-{kind}.png")
            made.append(Scan(path.name, path, sha256_path(path)))
    assert len({s.sha256 for s in made}) == SCANS
    print(f"{SCANS} scans made in {time.monotonic() - started:.0f} s ({seed - 1000} seeds)")
    return made


def _drop_scans(s3_client: Any, bucket: str, scans: list[Scan]) -> dict[str, str]:
    """The scans into the S3 intake, spread over four "scanner" folders; key -> sha256."""
    expected = {}
    for n, scan in enumerate(scans):
        key = f"{INTAKE}/scanner-{n % 4}/{scan.name}"
        s3_client.put_object(Bucket=bucket, Key=key, Body=scan.path.read_bytes())
        expected[key] = scan.sha256
    return expected


def _progress(c: Cluster, s3_client: Any, bucket: str) -> tuple[int, int, int]:
    """(documents filed, intake_pull rows still open, objects left in the prefix)."""
    url = c.shared["DOSSIER_DATABASE_URL"]
    (docs,) = _query(url, "SELECT count(*) FROM document")[0]
    (open_rows,) = _query(url, "SELECT count(*) FROM intake_pull WHERE state <> 'done'")[0]
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix=f"{INTAKE}/")
    return int(docs), int(open_rows), int(listing.get("KeyCount", 0))


def _run_until_filed(
    c: Cluster, s3_client: Any, bucket: str, expected: dict[str, str], *, timeout: float,
    kill_at: int | None = None,
) -> float:  # fmt: skip
    """Keep a run waiting until every scan is filed, nothing is open and the prefix is empty;
    with ``kill_at``, SIGKILL worker ``a``'s whole tree once that many documents are filed
    while it is processing. Returns the seconds it took."""
    started = time.monotonic()
    while True:
        c.keep_a_run_waiting()
        docs, open_rows, left = _progress(c, s3_client, bucket)
        if docs and "first_document" not in c.timings:
            c.timings["first_document"] = time.monotonic() - started
        if docs >= len(expected) and open_rows == 0 and left == 0:
            return time.monotonic() - started
        if kill_at is not None and docs >= kill_at and _busy(c, "a"):
            _kill_tree(c.workers["a"])
            print(f"killed worker a with {docs} documents filed, {open_rows} rows open")
            kill_at = None
        assert time.monotonic() - started < timeout, (
            f"{docs}/{len(expected)} filed, {open_rows} rows open, {left} objects left, "
            f"runs {dict(c.run_states())}\n{c.log_tail()}"
        )
        time.sleep(2)


def _busy(c: Cluster, name: str) -> bool:
    """Whether the worker's flow run holds files: claimed in its work folder or pulled."""
    home = c.tmp_path / name
    claims = list((home / "work" / "processing").glob("*/*"))
    return bool(claims) and len(_tree(c.workers[name].pid)) > 2


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _assert_filed_once(c: Cluster, expected: dict[str, str]) -> None:
    """Every scan filed once, every ``intake_pull`` row done."""
    url = c.shared["DOSSIER_DATABASE_URL"]
    filed = Counter(sha for (sha,) in _query(url, "SELECT original_sha256 FROM document"))
    assert set(filed) == set(expected.values()), "a scan was not filed, or something else was"
    assert set(filed.values()) == {1}, {k: n for k, n in filed.items() if n != 1}
    states = Counter(s for (s,) in _query(url, "SELECT state FROM intake_pull"))
    assert states == {"done": len(expected)}, states


def _check(c: Cluster, *args: str) -> tuple[int, dict[str, Any]]:
    """``dossier check --json`` (directly, not as a flow run): its exit code and summary."""
    check = c.dossier("admin", "check", "--json", *args, api=False)
    assert check.returncode in (0, 1, 2), check.stdout[-3000:] + check.stderr[-2000:]
    summary = json.loads(check.stdout)
    kinds = Counter((f["kind"], f["status"]) for f in summary["findings"])
    print(f"dossier check {' '.join(args)}: exit {check.returncode}, findings {dict(kinds)}")
    return check.returncode, summary


def _print_timings(c: Cluster, what: str) -> None:
    shown = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in c.timings.items())
    print(f"{what}: {shown}; load {_load()}")


@pytest.mark.timeout(1800)
def test_two_prefect_workers_file_every_scan_of_the_s3_intake_once(
    cluster: Cluster, scans: list[Scan], s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    expected = _drop_scans(s3_client, s3_bucket, scans)
    print(f"load at the start {_load()}")
    for name in ("a", "b"):
        cluster.start_worker(name)
    took = _run_until_filed(cluster, s3_client, s3_bucket, expected, timeout=1200)
    cluster.timings["filed"] = took
    _print_timings(cluster, f"{SCANS} scans filed by two Prefect workers")
    _assert_filed_once(cluster, expected)
    code, summary = _check(cluster)
    assert summary["findings"] == [] and code == 0, summary["findings"]
    pulled_into = Counter(
        Path(p).relative_to(tmp_path).parts[0] for (p,) in _query(
            cluster.shared["DOSSIER_DATABASE_URL"], "SELECT local_path FROM intake_pull"
        )
    )  # fmt: skip
    print(f"scans pulled per worker: {dict(pulled_into)}")
    assert set(pulled_into) == {"a", "b"} and sum(pulled_into.values()) == SCANS
    for name in ("a", "b"):  # nothing quarantined, nothing left behind
        home = tmp_path / name
        assert not [p for p in (home / "quarantine").rglob("*") if p.is_file()], name
        assert not list((home / "work" / "processing").glob("*/*")), name
        assert not [p for p in (home / "intake").rglob("*") if p.is_file()], name
    assert len({s for (s,) in _query(
        cluster.shared["DOSSIER_DATABASE_URL"], "SELECT submitted_by FROM document"
    )}) == SCANS  # fmt: skip


@pytest.mark.timeout(1800)
def test_a_worker_killed_mid_run_loses_nothing_and_files_nothing_twice(
    cluster: Cluster, scans: list[Scan], s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    expected = _drop_scans(s3_client, s3_bucket, scans)
    print(f"load at the start {_load()}")
    for name in ("a", "b"):
        cluster.start_worker(name)
    took = _run_until_filed(
        cluster, s3_client, s3_bucket, expected, timeout=1200, kill_at=SCANS // 2
    )
    cluster.timings["filed"] = took
    _print_timings(cluster, f"{SCANS} scans filed, worker a killed mid-run")
    assert cluster.workers["a"].poll() is not None, "worker a was never killed"
    _assert_filed_once(cluster, expected)
    # What the killed worker had stored before its commit is referenced by nothing: the check
    # finds it (orphan, nothing else) and --repair moves it under lost+found/, deleting nothing;
    # then the archive checks clean.
    code, found = _check(cluster, "--repair")
    orphans = {f["object_key"] for f in found["findings"]}
    assert {f["kind"] for f in found["findings"]} <= {"orphan"}, found["findings"]
    assert code == (1 if orphans else 0)
    repaired = {a["object_key"]: a for a in found["repairs"]}
    assert set(repaired) == orphans and all(
        a["action"] == "lost_found" and a["ok"] for a in repaired.values()
    ), found["repairs"]
    moved = s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="archive/lost+found/")
    assert moved.get("KeyCount", 0) == len(orphans)
    code, after = _check(cluster)
    assert code == 0, after["findings"]
    assert {(f["kind"], f["object_key"], f["status"]) for f in after["findings"]} == {
        ("orphan", key, "resolved") for key in orphans
    }
    code, again = _check(cluster)
    assert code == 0 and again["findings"] == [], again["findings"]
    survivor = tmp_path / "b"
    assert not list((survivor / "work" / "processing").glob("*/*"))
    assert not [p for p in (survivor / "intake").rglob("*") if p.is_file()]
