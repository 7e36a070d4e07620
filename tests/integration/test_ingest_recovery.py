"""Crash recovery and concurrent ingesters, with real processes that really die.

A child process (``python -m tests.fixtures.ingest``) runs one pass and exits with
``os._exit`` at a point injected through real seams: a store wrapper that exits after its Nth
successful ``put`` (the PDF is uploaded first, then the original), or a SQLAlchemy
``after_commit`` listener that exits right after the commit that recorded a document. A normal
re-run (a new run id, adopting the dead process's claims) must then account for every input
exactly once: one document per file, no bytes stored twice (no ``-2`` copy of an object left
by the crash: it is reused), the intake and the work area empty. (A ``-2`` key for DIFFERENT
bytes is legitimate: two unlinked forms filed the same day share a name.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.intake_pass import run_pass
from archive import users as user_service
from config import Settings
from ingest.intake import drop_file
from models.customer import Customer
from models.db import make_engine, upgrade_to_head
from models.document import Document
from tests.fixtures.ingest import (
    CRASH_EXIT_CODE,
    REPO_ROOT,
    all_documents,
    drop_sample,
    intake_files,
    quarantined_files,
    run_child_pass,
    sha256_path,
    store_from_spec,
    stored_objects,
    work_claims,
)

pytest_plugins = ["tests.fixtures.ingest"]


@pytest.fixture
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """A store description a child process can rebuild: ``local`` or ``s3`` (indirect)."""
    if getattr(request, "param", "local") == "local":
        return {"kind": "local", "root": str(tmp_path / "objects")}
    endpoint = request.getfixturevalue("s3_endpoint_url")
    request.getfixturevalue("aws_credentials")
    bucket = request.getfixturevalue("s3_bucket")
    return {"kind": "s3", "endpoint_url": endpoint, "bucket": bucket, "prefix": "dossier"}


@pytest.fixture
def migrated(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url`` migrated to head (children open their own)."""
    engine = make_engine(db_url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


def drop_files(settings: Settings, count: int, *, first_seed: int) -> dict[str, str]:
    """``count`` distinct scans in the intake; name -> sha256."""
    kinds = ("business_license", "customer_form", "bank_permit", "id_card")
    names = {}
    for n in range(count):
        kind = kinds[n % len(kinds)]
        path = drop_sample(
            Path(settings.intake_dir), f"{n:02d}-{kind}.png", kind, seed=first_seed + n
        )
        names[path.name] = sha256_path(path)
    return names


def assert_each_input_filed_once(
    *, engine: Engine, store_spec: dict[str, str], settings: Settings, inputs: dict[str, str]
) -> None:
    """One document per input, every object referenced once, nothing left behind."""
    documents = all_documents(engine)
    per_sha = Counter(d.original_sha256 for d in documents)
    assert per_sha == Counter(inputs.values()), f"documents per input: {per_sha}"
    objects = stored_objects(store_from_spec(store_spec))
    referenced = [d.pdf_key for d in documents] + [d.original_key for d in documents]
    assert len(referenced) == len(set(referenced)), "two rows share an object"
    assert set(objects) == set(referenced), "orphaned or missing objects"
    copies = [sha for sha, n in Counter(objects.values()).items() if n > 1]
    assert not copies, f"the same bytes stored twice (a -N copy): {sorted(objects)}"
    for d in documents:
        assert objects[d.pdf_key] == d.pdf_sha256
        assert objects[d.original_key] == d.original_sha256
    assert intake_files(settings) == []
    assert work_claims(settings) == []
    assert quarantined_files(settings) == {}


# ---- crashes -------------------------------------------------------------------------------

CRASHES = [
    pytest.param("put:1", "sqlite", "local", id="after-first-upload-sqlite-local"),
    pytest.param("put:2", "sqlite", "local", id="after-both-uploads-sqlite-local"),
    pytest.param("commit", "sqlite", "local", id="after-commit-sqlite-local"),
    pytest.param("put:2", "postgresql", "s3", id="after-both-uploads-postgresql-s3"),
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("crash", "db_url", "store_spec"), CRASHES, indirect=["db_url", "store_spec"]
)
def test_a_rerun_after_a_crash_accounts_for_every_input_once(
    crash: str,
    db_url: str,
    store_spec: dict[str, str],
    migrated: Engine,
    make_settings,
    tmp_home: Path,
    ingest_services,
) -> None:
    settings = make_settings(workers=1)
    inputs = drop_files(settings, 2, first_seed=60)

    child = run_child_pass(
        home=tmp_home, database_url=db_url, store_spec=store_spec, crash=crash, workers=1
    )
    assert child.returncode == CRASH_EXIT_CODE, child.stderr[-3000:]
    # the crash left claims behind (and, for "commit", one recorded document)
    assert work_claims(settings), "the crashed run left no claim"
    assert len(all_documents(migrated)) == (1 if crash == "commit" else 0)
    left_objects = stored_objects(store_from_spec(store_spec))
    assert len(left_objects) == {"put:1": 1, "put:2": 2, "commit": 2}[crash]

    store = store_from_spec(store_spec)
    services = ingest_services(engine=migrated, store=store, settings=settings)
    report = run_pass(services, settle=False)

    assert sorted(o.source for o in report.outcomes) == sorted(inputs)
    kinds = Counter(o.kind for o in report.outcomes)
    assert kinds["recovered"] == (1 if crash == "commit" else 0), kinds
    assert not kinds["quarantined"] and not kinds["duplicate"] and not kinds["retry"], kinds
    assert_each_input_filed_once(
        engine=migrated, store_spec=store_spec, settings=settings, inputs=inputs
    )
    final = stored_objects(store)
    for key, sha in left_objects.items():
        assert final.get(key) == sha, f"object left by the crash not reused: {key}"


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("db_url", "store_spec"), [("sqlite", "local")], indirect=True)
def test_an_uploaders_submitter_survives_a_crashed_pass(
    db_url: str,
    store_spec: dict[str, str],
    migrated: Engine,
    make_settings,
    tmp_home: Path,
    ingest_services,
    tmp_path: Path,
) -> None:
    """A dropped file's submitter (and a sales uploader's ownership) outlives a killed pass."""
    settings = make_settings(workers=1)
    with Session(migrated) as session:
        alice = user_service.create_user(
            session, username="alice", password="correct-horse-42", role="sales", actor="test"
        )
        session.commit()
        alice_id = alice.id
    scan = drop_sample(tmp_path, "scan.png", "business_license", seed=64)
    dropped = drop_file(scan, "营业执照.png", Path(settings.intake_dir) / "alice",
                        submitted_by="alice")

    child = run_child_pass(
        home=tmp_home, database_url=db_url, store_spec=store_spec, crash="put:1", workers=1
    )
    assert child.returncode == CRASH_EXIT_CODE, child.stderr[-3000:]
    assert not dropped.exists() and work_claims(settings)

    services = ingest_services(engine=migrated, store=store_from_spec(store_spec),
                               settings=settings)
    (outcome,) = run_pass(services, settle=False).outcomes
    (filed,) = outcome.documents
    with Session(migrated) as session:
        document = session.get(Document, filed.document_id)
        assert document is not None and document.submitted_by == "alice"
        customer = session.get(Customer, document.customer_id)
        assert customer is not None and customer.owner_id == alice_id


# ---- two ingesters at once -----------------------------------------------------------------


def start_child(*, home: Path, db_url: str, store_spec: dict[str, str]) -> subprocess.Popen[str]:
    """Like ``run_child_pass`` but not waited for, so two can run at the same time."""
    config = {
        "home": str(home),
        "database_url": db_url,
        "store": store_spec,
        "crash": None,
        "settings": {"workers": 1},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.ingest", json.dumps(config)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("db_url", "store_spec"),
    [
        pytest.param("sqlite", "local", id="sqlite-local"),
        pytest.param("postgresql", "s3", id="postgresql-s3"),
    ],
    indirect=True,
)
def test_two_concurrent_ingesters_file_each_file_once(
    db_url: str, store_spec: dict[str, str], migrated: Engine, make_settings, tmp_home: Path
) -> None:
    settings = make_settings(workers=1)
    inputs = drop_files(settings, 6, first_seed=70)

    children = [start_child(home=tmp_home, db_url=db_url, store_spec=store_spec) for _ in "ab"]
    reports = []
    for child in children:
        out, err = child.communicate(timeout=540)
        assert child.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))

    sources = [f["source"] for r in reports for f in r["files"]]
    assert sorted(sources) == sorted(inputs), "a file was processed twice or not at all"
    outcomes = Counter(f["outcome"] for r in reports for f in r["files"])
    assert set(outcomes) <= {"archived", "needs_review"}, outcomes
    assert reports[0]["run_id"] != reports[1]["run_id"]
    assert_each_input_filed_once(
        engine=migrated, store_spec=store_spec, settings=settings, inputs=inputs
    )
