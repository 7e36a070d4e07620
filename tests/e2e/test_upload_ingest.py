"""A sales user's upload over real HTTP, filed by the intake pass, is theirs to open.

uvicorn serves the real app on a local port; the upload goes through the browser's form post
(CSRF token included); the intake pass (real OCR in isolated workers) files it; then the same
user opens the document and its PDF, and another sales user gets 404.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.intake_pass import run_pass
from archive.storage import LocalObjectStore, ObjectStore
from bench.samples import generate, write_sample
from models import repo
from models.customer import Customer
from models.document import Document
from tests.e2e.test_web_http import PASSWORD, WebWorld, csrf_from, make_world
from tests.fixtures.ingest import all_documents, open_services, test_settings
from web.app import create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def world(tmp_path: Path, db_url: str, engine: Engine) -> WebWorld:
    store: ObjectStore = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    settings = test_settings(home=tmp_path / "home", database_url=db_url, workers=1)
    return make_world(settings=settings, engine=engine, store=store, workdir=tmp_path / "samples")


@pytest.fixture
def base_url(world: WebWorld) -> Iterator[str]:
    """The app served by uvicorn in a thread; stopped after the test."""
    app = create_app(world.settings, engine=world.engine, store=world.store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def _signed_in(base_url: str, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        page = client.get("/login")
        response = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        )
        assert response.status_code == 303, response.text
        yield client


def test_a_sales_upload_is_filed_as_theirs_and_they_can_open_it(
    world: WebWorld, base_url: str, tmp_path: Path
) -> None:
    scan = write_sample(generate("business_license", seed=41), tmp_path / "scan.png")
    before = {d.id for d in all_documents(world.engine)}
    with _signed_in(base_url, "sales1") as sales1, _signed_in(base_url, "sales2") as sales2:
        token = csrf_from(sales1.get("/upload").text)
        upload = sales1.post(
            "/upload",
            data={"csrf_token": token},
            files=[("files", ("新客户营业执照.png", scan.read_bytes(), "image/png"))],
        )
        assert upload.status_code == 200, upload.text
        assert re.search("已上传 1 个文件", upload.text)

        with open_services(settings=world.settings, engine=world.engine, store=world.store,
                           workers=1) as services:
            report = run_pass(services, settle=False)
        assert [o.kind for o in report.outcomes] == ["needs_review"], report.as_dict()

        (document,) = [d for d in all_documents(world.engine) if d.id not in before]
        assert document.submitted_by == "sales1"
        assert document.original_filename == "新客户营业执照.png"
        with Session(world.engine) as session:
            customer = session.get(Customer, document.customer_id)
            sales1_user = repo.get_user(session, username="sales1")
            assert customer is not None and sales1_user is not None
            assert customer.code not in world.customers.values(), "a new customer was made"
            assert customer.owner_id == sales1_user.id

        assert sales1.get(f"/documents/{document.id}").status_code == 200
        pdf = sales1.get(f"/documents/{document.id}/pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert sales2.get(f"/documents/{document.id}").status_code == 404
        assert sales2.get(f"/customers/{customer.code}").status_code == 404


def test_a_file_copied_into_the_intake_stays_the_systems(world: WebWorld) -> None:
    """No drop, no sidecar: filed as ``system`` and the new customer has no owner."""
    scan = generate("business_license", seed=43)
    write_sample(scan, Path(world.settings.intake_dir or "") / "copied.png")
    with open_services(settings=world.settings, engine=world.engine, store=world.store,
                       workers=1) as services:
        report = run_pass(services, settle=False)
    (outcome,) = report.outcomes
    (filed,) = outcome.documents
    with Session(world.engine) as session:
        document = session.get(Document, filed.document_id)
        assert document is not None and document.submitted_by == "system"
        customer = session.get(Customer, document.customer_id)
        assert customer is not None and customer.owner_id is None
