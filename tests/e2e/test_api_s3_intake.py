"""An API upload over real HTTP (uvicorn, httpx) when the intake is a shared S3 prefix: the web
process writes the file and its signed sidecar to S3 (its own intake folder stays empty), a
worker on another "machine" (its own home, the same database and prefix) pulls and files it
with the uploader, the customer and the type hint, and the upload id's status and the uploader's
"my uploads" page follow it from queued to filed. SQLite and PostgreSQL, the moto server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.intake_pass import run_pass
from archive.storage import LocalObjectStore, ObjectStore
from config import Settings
from models.document import Document
from tests.e2e.test_api_hints import _unrecognisable_page
from tests.e2e.test_api_http import API, client, token_for
from tests.e2e.test_web_hardening import serve, signed_in  # noqa: F401  (fixture)
from tests.e2e.test_web_http import WebWorld, make_world
from tests.fixtures.ingest import open_services, test_settings
from tests.fixtures.s3 import TEST_REGION

pytestmark = pytest.mark.timeout(600)
KEY_VAR = "DOSSIER_INTAKE_TEST_HMAC"


@pytest.fixture
def shared(
    tmp_path: Path,
    db_url: str,
    s3_bucket: str,
    s3_endpoint_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str], Settings]:
    monkeypatch.setenv(KEY_VAR, "one key for web and workers")

    def build(name: str) -> Settings:
        return test_settings(
            home=tmp_path / name,
            database_url=db_url,
            max_file_mb=2,
            intake_s3_url=f"s3://{s3_bucket}/intake/",
            s3_endpoint_url=s3_endpoint_url,
            s3_region=TEST_REGION,
            intake_s3_secret_env=KEY_VAR,
        )

    return build


@pytest.fixture
def world(tmp_path: Path, engine: Engine, shared: Callable[[str], Settings]) -> WebWorld:
    store: ObjectStore = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    return make_world(
        settings=shared("web"), engine=engine, store=store, workdir=tmp_path / "samples"
    )


def _in_s3(s3_client: Any, bucket: str) -> list[str]:
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix="intake/")
    return [o["Key"] for o in listing.get("Contents", ())]


def test_api_upload_through_the_s3_intake_is_filed_by_another_worker(
    world: WebWorld,
    serve: Callable[..., str],  # noqa: F811
    shared: Callable[[str], Settings],
    s3_client: Any,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    base_url = serve()
    code_a = world.customers["A"]
    page = _unrecognisable_page(tmp_path / "notes.png", "MEETING NOTES")
    with client(base_url, token_for(world, "sales1")) as api:
        sent = api.post(
            "/documents",
            files={"file": ("会议纪要.png", page, "image/png")},
            data={"customer": code_a, "document_type": "contract"},
            headers={"Idempotency-Key": "notes-1"},
        )
        assert sent.status_code == 202, sent.text
        upload = sent.json()
        assert upload["status"] == "queued", upload
        assert len(_in_s3(s3_client, s3_bucket)) == 2  # the file and its sidecar
        web_intake = Path(world.settings.intake_dir or "")
        assert not [p for p in web_intake.rglob("*") if p.is_file()]
    with signed_in(base_url, "sales1") as sales:
        mine = sales.get("/uploads").text
        assert "会议纪要.png" in mine and "等待处理" in mine

    worker = shared("worker")  # another machine: its own intake, the same DB and prefix
    with open_services(settings=worker, engine=world.engine, store=world.store) as services:
        run_pass(services, settle=False)
    assert _in_s3(s3_client, s3_bucket) == []

    with client(base_url, token_for(world, "sales1")) as api:
        status = api.get(upload["status_url"].removeprefix(API)).json()
        assert status["status"] == "filed", status
        (record,) = status["documents"]
        doc = api.get(f"/documents/{record['id']}").json()
        assert doc["document_type"] == "contract" and doc["customer"]["code"] == code_a, doc
        assert doc["fields"]["_meta"]["upload_hints"]["customer_code"] == code_a
    with Session(world.engine) as session:
        filed = session.get(Document, record["id"])
        assert filed is not None and filed.submitted_by == "sales1"
    with signed_in(base_url, "sales1") as sales:
        mine = sales.get("/uploads").text
        assert "会议纪要.png" in mine and "等待处理" not in mine
