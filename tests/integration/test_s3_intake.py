"""The shared S3 intake (app.s3_intake): several workers, one S3 prefix, each object once.

Real S3 protocol (the moto server), real databases (SQLite and PostgreSQL), real intake folders:
two workers race over one prefix; a worker that died at each step is adopted; names the store
refuses, objects too large and objects deleted between the listing and the download are reported
with a Chinese reason and never crash the pass.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.intake_pass import run_pass
from app.s3_intake import PullReport, intake_name, object_version, pull_s3_intake
from archive.integrity import CheckOptions, run_checks
from archive.storage import LocalObjectStore, ObjectInfo, ObjectStore
from config import Settings, load_settings
from ingest.intake import drop_file
from ingest.intake.sidecar import read_sidecar
from models.document import Document
from models.intake_pull import IntakePull
from tests.fixtures.ingest import TEST_SETTINGS, drop_sample, open_services
from tests.fixtures.s3_intake import PREFIX

pytest_plugins = ["tests.fixtures.s3_intake"]
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def _put(s3_client: Any, bucket: str, key: str, data: bytes) -> None:
    s3_client.put_object(Bucket=bucket, Key=f"{PREFIX}/{key}", Body=data)


def _left_in_s3(s3_client: Any, bucket: str) -> list[str]:
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/")
    return sorted(o["Key"] for o in listing.get("Contents", ()))


def _visible(settings: Settings) -> dict[str, bytes]:
    folder = Path(settings.intake_dir)  # type: ignore[arg-type]
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


def _rows(engine: Engine) -> list[IntakePull]:
    with Session(engine) as session:
        return list(session.exec(select(IntakePull)).all())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pull(settings: Settings, engine: Engine, worker: str, **kw: Any) -> PullReport:
    kw.setdefault("batch", 100)
    report = pull_s3_intake(settings=settings, engine=engine, worker=worker, **kw)
    assert report is not None
    return report


# ---- two workers, one prefix ----------------------------------------------------------------


def test_two_workers_pull_each_object_exactly_once(
    engine: Engine, worker_settings: Callable[..., Settings], s3_client: Any, bucket: str
) -> None:
    objects = {f"scan-{n:02d}.pdf": f"scan {n} ".encode() * (50 + n) for n in range(40)}
    for name, data in objects.items():
        _put(s3_client, bucket, name, data)
    workers = [worker_settings("a"), worker_settings("b")]
    start = threading.Barrier(len(workers))
    reports: dict[str, PullReport] = {}
    errors: list[BaseException] = []

    def run(name: str, settings: Settings) -> None:
        try:
            start.wait()
            report = None
            while report is None or report.more:  # batches of 3, as a pass's rounds take them
                report = _pull(settings, engine, name, batch=3, into=report)
            reports[name] = report
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(f"w{i}", s)) for i, s in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    landed = [_visible(s) for s in workers]
    names = Counter(n for files in landed for n in files)
    assert set(names) == set(objects) and set(names.values()) == {1}  # each once, somewhere
    for files in landed:
        for name, data in files.items():
            assert data == objects[name]
    pulled = {w: r.counts().get("pulled", 0) for w, r in reports.items()}
    assert sum(pulled.values()) == 40, pulled
    print(f"pulled per worker: {pulled}")
    assert len(_left_in_s3(s3_client, bucket)) == 40  # deleted only once filed
    rows = _rows(engine)
    assert len(rows) == 40 and {r.state for r in rows} == {"pulled"}
    assert {r.sha256 for r in rows} == {_sha(d) for d in objects.values()}
    # each file carries its submitter into the intake: the object's key
    for settings in workers:
        for name, data in _visible(settings).items():
            record = read_sidecar(Path(settings.intake_dir) / name, sha256=_sha(data))  # type: ignore[arg-type]
            assert record is not None and record.submitted_by == f"s3:{name}"


def test_a_second_pass_finds_nothing_to_do(
    engine: Engine, worker_settings: Callable[..., Settings], s3_client: Any, bucket: str
) -> None:
    _put(s3_client, bucket, "one.pdf", b"one")
    settings = worker_settings("a")
    assert _pull(settings, engine, "w").counts() == {"pulled": 1}
    assert _pull(settings, engine, "w").counts() == {}


def test_no_s3_intake_configured_pulls_nothing(tmp_path: Path, engine: Engine) -> None:
    settings = load_settings(home=tmp_path / "plain")
    assert pull_s3_intake(settings=settings, engine=engine, worker="w") is None


# ---- a worker that died ---------------------------------------------------------------------


def _dead_row(engine: Engine, info: ObjectInfo, *, state: str, **values: Any) -> None:
    with Session(engine) as session:
        session.add(
            IntakePull(
                object_key=info.key,
                version=object_version(info),
                size=info.size,
                state=state,
                worker="dead-host:4242:0123456789ab",
                lease="0" * 32,
                claimed_at=LONG_AGO,
                heartbeat_at=LONG_AGO,
                **values,
            )
        )
        session.commit()


def _listed(store: ObjectStore, key: str) -> ObjectInfo:
    return next(i for i in store.iter_objects() if i.key == key)


def test_claim_of_a_dead_worker_is_adopted_and_pulled_again(
    engine: Engine,
    worker_settings: Callable[..., Settings],
    prefix_store: ObjectStore,
    s3_client: Any,
    bucket: str,
) -> None:
    """Died after claiming (maybe after dropping too): the object is pulled again, once more."""
    data = b"claimed by a worker that died"
    _put(s3_client, bucket, "claimed.pdf", data)
    dead, live = worker_settings("dead"), worker_settings("live")
    drop_file(data, "claimed.pdf", dead.intake_dir, submitted_by="s3:claimed.pdf")  # type: ignore[arg-type]
    _dead_row(engine, _listed(prefix_store, "claimed.pdf"), state="claimed")
    report = _pull(live, engine, "live")
    assert report.counts() == {"pulled": 1}
    assert _visible(live) == {"claimed.pdf": data}
    assert _left_in_s3(s3_client, bucket) == [f"{PREFIX}/claimed.pdf"]  # until filed
    (row,) = _rows(engine)
    assert (row.state, row.worker, row.adopted_from) == (
        "pulled",
        "live",
        "dead-host:4242:0123456789ab",
    )


def test_pulled_by_a_lost_machine_and_not_filed_is_pulled_again(
    engine: Engine,
    worker_settings: Callable[..., Settings],
    prefix_store: ObjectStore,
    s3_client: Any,
    bucket: str,
) -> None:
    """Handed in to a machine that is gone for good, never filed: the object is still in S3,
    another worker pulls it again (its own intake; the dead one's copy is not its)."""
    data = b"pulled by a worker that died"
    _put(s3_client, bucket, "pulled.pdf", data)
    dead, live = worker_settings("dead"), worker_settings("live")
    path = drop_file(data, "pulled.pdf", dead.intake_dir, submitted_by="s3:pulled.pdf")  # type: ignore[arg-type]
    _dead_row(
        engine,
        _listed(prefix_store, "pulled.pdf"),
        state="pulled",
        sha256=_sha(data),
        local_path=str(path),
    )
    assert _pull(live, engine, "live").counts() == {"pulled": 1}
    assert _visible(live) == {"pulled.pdf": data} and _visible(dead) == {"pulled.pdf": data}
    assert _left_in_s3(s3_client, bucket) == [f"{PREFIX}/pulled.pdf"]
    (row,) = _rows(engine)
    assert row.state == "pulled" and row.worker == "live"
    assert row.local_path == str(Path(live.intake_dir) / "pulled.pdf")  # type: ignore[arg-type]


def test_deleted_but_not_marked_done_is_closed(
    engine: Engine,
    worker_settings: Callable[..., Settings],
    prefix_store: ObjectStore,
    s3_client: Any,
    bucket: str,
) -> None:
    """Died between deleting the object and recording it (no document of its bytes: it was
    quarantined, or someone deleted the object): the row is closed, nothing pulled."""
    _put(s3_client, bucket, "gone.pdf", b"gone")
    _dead_row(engine, _listed(prefix_store, "gone.pdf"), state="pulled", sha256=_sha(b"gone"))
    s3_client.delete_object(Bucket=bucket, Key=f"{PREFIX}/gone.pdf")
    live = worker_settings("live")
    assert _pull(live, engine, "live").counts() == {"vanished": 1}
    assert [r.state for r in _rows(engine)] == ["vanished"]
    assert _visible(live) == {}


def test_a_live_claim_is_left_alone(
    engine: Engine,
    worker_settings: Callable[..., Settings],
    prefix_store: ObjectStore,
    s3_client: Any,
    bucket: str,
) -> None:
    _put(s3_client, bucket, "busy.pdf", b"busy")
    info = _listed(prefix_store, "busy.pdf")
    _dead_row(engine, info, state="claimed")
    with Session(engine) as session:  # the holder is alive: its heartbeat is fresh
        row = session.exec(select(IntakePull)).one()
        row.heartbeat_at = datetime.now(UTC)
        session.add(row)
        session.commit()
    live = worker_settings("live")
    assert _pull(live, engine, "live").counts() == {}
    assert _left_in_s3(s3_client, bucket) == [f"{PREFIX}/busy.pdf"]
    assert _visible(live) == {}


# ---- what cannot be pulled ------------------------------------------------------------------


class _VanishingStore(ObjectStore):
    """The real prefix store, except that one object is deleted right after every listing
    (another party removing it between our listing and our download)."""

    def __init__(self, inner: ObjectStore, *, vanish: str) -> None:
        self._inner = inner
        self._vanish = vanish

    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        listed = list(self._inner.iter_objects(prefix))
        self._inner.delete(self._vanish)
        return iter(listed)

    def put(self, key, source, **kwargs):  # type: ignore[no-untyped-def, override]
        return self._inner.put(key, source, **kwargs)

    def open(self, key, *, verify=True):  # type: ignore[no-untyped-def, override]
        return self._inner.open(key, verify=verify)

    def head(self, key):  # type: ignore[no-untyped-def, override]
        return self._inner.head(key)

    def copy(self, src, dst):  # type: ignore[no-untyped-def, override]
        return self._inner.copy(src, dst)

    def delete(self, key):  # type: ignore[no-untyped-def, override]
        return self._inner.delete(key)

    def ensure_ready(self):  # type: ignore[no-untyped-def, override]
        return self._inner.ensure_ready()

    def describe(self):  # type: ignore[no-untyped-def, override]
        return self._inner.describe()


def test_refused_and_vanished_objects_are_reported_in_chinese(
    engine: Engine,
    worker_settings: Callable[..., Settings],
    prefix_store: ObjectStore,
    s3_client: Any,
    bucket: str,
) -> None:
    long_name = "长" * 100 + ".pdf"  # one segment of 304 bytes: over the 255 a name may have
    _put(s3_client, bucket, long_name, b"long")
    _put(s3_client, bucket, "cafe\u0301.pdf", b"not NFC")  # a key the store refuses
    _put(s3_client, bucket, "big.pdf", b"x" * (1024 * 1024 + 1))
    _put(s3_client, bucket, "vanishing.pdf", b"here, then not")
    _put(s3_client, bucket, "sub/folder/ok.pdf", b"fine")
    s3_client.put_object(Bucket=bucket, Key=f"{PREFIX}/sub/", Body=b"")  # a folder marker
    settings = worker_settings("a", max_file_mb=1)
    store = _VanishingStore(prefix_store, vanish="vanishing.pdf")
    report = _pull(settings, engine, "w", store=store)
    by_key = {o.key: o for o in report.outcomes}
    assert by_key["sub/folder/ok.pdf"].kind == "pulled"
    assert _visible(settings) == {"ok.pdf": b"fine"}
    assert by_key["big.pdf"].kind == "refused" and "文件过大" in (by_key["big.pdf"].reason or "")
    assert by_key["vanishing.pdf"].kind == "vanished"
    assert "已被删除" in (by_key["vanishing.pdf"].reason or "")
    for key in (long_name, "cafe\u0301.pdf"):
        assert by_key[key].kind == "refused" and "对象名" in (by_key[key].reason or ""), by_key[key]
    assert "sub/" not in by_key
    left = set(_left_in_s3(s3_client, bucket))
    assert {f"{PREFIX}/{long_name}", f"{PREFIX}/cafe\u0301.pdf", f"{PREFIX}/big.pdf"} <= left
    states = Counter(r.state for r in _rows(engine))
    assert states == {"refused": 3, "vanished": 1, "pulled": 1}
    # refused objects stay for a person, and are not tried again
    assert _pull(settings, engine, "w").counts() == {}


def test_intake_name_fits_the_file_system() -> None:
    assert intake_name("a/b/scan.pdf") == "scan.pdf"
    long = intake_name("x/" + "长" * 90 + ".pdf")
    assert long.endswith(".pdf") and len(long.encode()) <= 200


# ---- end to end: pulled, filed once -----------------------------------------------------------


def test_pulled_scans_are_filed_exactly_once_across_two_workers(
    engine: Engine,
    worker_settings: Callable[..., Settings],
    prefix_store: ObjectStore,
    s3_client: Any,
    bucket: str,
    tmp_path: Path,
) -> None:
    """Worker a died after dropping one scan it had claimed; b adopts the claim and pulls
    everything; a comes back and processes its copy: every scan is filed once, the check is
    clean."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    scans: dict[str, bytes] = {}
    for n, kind in enumerate(("business_license", "bank_permit", "id_card")):
        path = drop_sample(scratch, f"{n}-{kind}.png", kind, seed=n + 1)
        scans[path.name] = path.read_bytes()
        _put(s3_client, bucket, f"scanner-{n}/{path.name}", scans[path.name])
    archive = LocalObjectStore(tmp_path / "archive")
    archive.ensure_ready()
    overrides = {**TEST_SETTINGS, "workers": 1, "ocr_engine": "tesseract"}
    a, b = worker_settings("a", **overrides), worker_settings("b", **overrides)
    first = next(iter(scans))
    drop_file(scans[first], first, a.intake_dir, submitted_by=f"s3:scanner-0/{first}")  # type: ignore[arg-type]
    _dead_row(engine, _listed(prefix_store, f"scanner-0/{first}"), state="claimed")

    reports = {}
    for name, settings in (("b", b), ("a", a)):
        with open_services(settings=settings, engine=engine, store=archive) as services:
            reports[name] = run_pass(services, settle=False)
    b_kinds = Counter(o.kind for o in reports["b"].outcomes)
    assert sum(b_kinds[k] for k in ("archived", "needs_review")) == 3, reports["b"].as_dict()
    assert [o.kind for o in reports["a"].outcomes] == ["duplicate"]
    assert reports["b"].s3_intake is not None
    assert reports["b"].s3_intake["counts"] == {"pulled": 3}
    with Session(engine) as session:
        docs = session.exec(select(Document)).all()
        originals = Counter(d.original_sha256 for d in docs)
        submitters = {d.submitted_by for d in docs}
    assert set(originals) == {_sha(d) for d in scans.values()}
    assert submitters == {f"s3:scanner-{n}/{name}" for n, name in enumerate(scans)}
    assert _left_in_s3(s3_client, bucket) == []
    assert {r.state for r in _rows(engine)} == {"done"}
    assert _visible(a) == {} and _visible(b) == {}
    report = run_checks(engine=engine, store=archive, taxonomy=b.taxonomy, options=CheckOptions())
    assert [f.kind for f in report.findings if f.severity == "critical"] == []


def test_partial_downloads_of_a_killed_worker_are_swept(
    engine: Engine, worker_settings: Callable[..., Settings]
) -> None:
    settings = worker_settings("a", intake_s3_claim_timeout_seconds=60)
    downloads = Path(settings.work_dir) / "s3-intake"  # type: ignore[arg-type]
    downloads.mkdir(parents=True)
    old, fresh = downloads / "old.part", downloads / "fresh.part"
    old.write_bytes(b"half a scan")
    fresh.write_bytes(b"another worker on this machine, still downloading")
    os.utime(old, (time.time() - 120, time.time() - 120))
    _pull(settings, engine, "a")
    assert sorted(p.name for p in downloads.iterdir()) == ["fresh.part"]


def test_one_pass_takes_the_prefix_in_rounds(
    engine: Engine,
    worker_settings: Callable[..., Settings],
    s3_client: Any,
    bucket: str,
    tmp_path: Path,
) -> None:
    """A pass pulls a batch (4 × workers), processes it, and pulls again while S3 has more."""
    for n in range(10):  # refused as unsupported at once: no OCR needed to follow the rounds
        _put(s3_client, bucket, f"note-{n}.txt", f"说明 {n}".encode())
    settings = worker_settings("a", **{**TEST_SETTINGS, "workers": 1})
    archive = LocalObjectStore(tmp_path / "archive")
    archive.ensure_ready()
    claimed: list[int] = []
    with open_services(settings=settings, engine=engine, store=archive) as services:
        report = run_pass(services, settle=True, on_claims=claimed.append)
    assert claimed == [4, 8, 10]  # three rounds, the bar's total growing
    assert Counter(o.kind for o in report.outcomes) == {"quarantined": 10}
    assert report.s3_intake is not None and report.s3_intake["counts"] == {"pulled": 10}
    assert _left_in_s3(s3_client, bucket) == [] and _visible(settings) == {}
