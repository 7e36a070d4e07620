"""``dossier ingest --now`` on two "machines" sharing one S3 intake, one database, one archive.

Real subprocesses (each with its own home, so its own intake and work folders), the S3-protocol
server (moto), the tesseract engine to keep it short. Both run at once over one prefix of scans:
every scan is filed exactly once, nothing is left in S3, no claim is left open, and the
integrity check finds nothing critical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from archive.integrity import CheckOptions, run_checks
from archive.storage import LocalObjectStore
from config import load_settings
from models.db import make_engine
from models.document import Document
from models.intake_pull import IntakePull
from tests.fixtures.ingest import REPO_ROOT, SMALL_DPI, drop_sample, sha256_path
from tests.fixtures.s3 import TEST_REGION

PREFIX = "shared-intake"


def _env(home: Path, shared: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env.update(
        shared,
        DOSSIER_HOME=str(home),
        PYTHONPATH=str(REPO_ROOT),
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        OMP_THREAD_LIMIT="1",
    )
    env.pop("PREFECT_API_URL", None)
    return env


def _dossier(home: Path, shared: dict[str, str], *args: str) -> subprocess.Popen[str]:
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-c", "from cli.main import main; main()", *args],
        cwd=home,
        env=_env(home, shared),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return out


@pytest.mark.timeout(900)
def test_two_cli_workers_file_each_pulled_scan_once(
    tmp_path: Path, s3_endpoint_url: str, s3_client: Any, s3_bucket: str
) -> None:
    scans = tmp_path / "scans"
    expected = {}
    for n, kind in enumerate(("business_license", "bank_permit", "id_card", "customer_form")):
        path = drop_sample(scans, f"{n}-{kind}.png", kind, seed=90 + n)
        expected[f"{PREFIX}/scanner/{path.name}"] = sha256_path(path)
        s3_client.put_object(
            Bucket=s3_bucket, Key=f"{PREFIX}/scanner/{path.name}", Body=path.read_bytes()
        )
    database = tmp_path / "shared.db"
    shared = {
        "DOSSIER_DATABASE_URL": f"sqlite:///{database}",
        "DOSSIER_STORAGE_URL": (tmp_path / "archive").as_uri(),
        "DOSSIER_INTAKE_S3_URL": f"s3://{s3_bucket}/{PREFIX}/",
        "DOSSIER_S3_ENDPOINT_URL": s3_endpoint_url,
        "DOSSIER_S3_REGION": TEST_REGION,
        "DOSSIER_OCR_ENGINE": "tesseract",
        "DOSSIER_TARGET_DPI": str(SMALL_DPI),
        "DOSSIER_WORKERS": "1",
    }
    _finish(_dossier(tmp_path / "a", shared, "init"))
    runs = [_dossier(tmp_path / m, shared, "ingest", "--now", "--json") for m in ("a", "b")]
    reports = [json.loads(_finish(p)) for p in runs]

    pulled = Counter(o["key"] for r in reports for o in r["s3_intake"]["objects"])
    assert sorted(f"{PREFIX}/{k}" for k in pulled) == sorted(expected)
    assert set(pulled.values()) == {1}
    outcomes = Counter(f["outcome"] for r in reports for f in r["files"])
    assert outcomes["archived"] + outcomes["needs_review"] == len(expected), reports
    listing = s3_client.list_objects_v2(Bucket=s3_bucket, Prefix=f"{PREFIX}/")
    assert listing.get("KeyCount", 0) == 0
    engine = make_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            docs = session.exec(select(Document)).all()
            rows = session.exec(select(IntakePull)).all()
        assert sorted(d.original_sha256 for d in docs) == sorted(expected.values())
        assert {r.state for r in rows} == {"done"} and len(rows) == len(expected)
        store = LocalObjectStore(tmp_path / "archive")
        report = run_checks(
            engine=engine, store=store, taxonomy=load_settings().taxonomy, options=CheckOptions()
        )
        assert [f.kind for f in report.findings if f.severity == "critical"] == []
    finally:
        engine.dispose()
