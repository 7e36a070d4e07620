"""The web UI's hardening over real HTTP (uvicorn on 127.0.0.1, httpx), SQLite and PostgreSQL.

Ids in paths never reach the database unless the database can hold them (404, not 500);
errors answer JSON to programs and a Chinese page to browsers.
"""

from __future__ import annotations

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

from archive.storage import LocalObjectStore, ObjectStore
from config import load_settings
from tests.e2e.test_web_http import PASSWORD, WebWorld, csrf_from, make_world
from web.app import create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def world(tmp_path: Path, db_url: str, engine: Engine) -> WebWorld:
    store: ObjectStore = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    settings = load_settings(home=tmp_path / "home", database_url=db_url)
    settings.ensure_dirs()
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
def signed_in(base_url: str, username: str) -> Iterator[httpx.Client]:
    """An httpx client signed in through the login form, closed afterwards."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        page = client.get("/login")
        response = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        )
        assert response.status_code == 303, response.text
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/documents/99999999999999999999/pdf",
        "/documents/99999999999999999999",
        "/documents/2147483648/original",
        "/documents/0",
        "/documents/-1/pdf",
        "/documents/abc",
        "/documents/1/pages/99999999999999999999.png",
    ],
)
def test_ids_out_of_range_answer_404(base_url: str, path: str) -> None:
    with signed_in(base_url, "admin") as client:
        response = client.get(path)
        assert response.status_code == 404, response.text
        assert "页面或资料不存在" in response.text
        assert response.headers["content-type"].startswith("text/html")


def test_query_ids_out_of_range_are_ignored(base_url: str) -> None:
    with signed_in(base_url, "admin") as client:
        for path in ("/queue?after=99999999999999999999", "/queue?page=99999999999999999999",
                     "/audit?page=99999999999999999999",
                     "/queue/next?after=99999999999999999999"):
            response = client.get(path)
            assert response.status_code < 500, (path, response.text)


def test_errors_answer_json_to_programs(base_url: str) -> None:
    with signed_in(base_url, "admin") as client:
        response = client.get("/documents/99999999999999999999/pdf",
                              headers={"Accept": "application/json"})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    anonymous = httpx.get(f"{base_url}/queue", headers={"Accept": "application/json"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == {"code": "authentication", "message": "请先登录"}
    browser = httpx.get(f"{base_url}/queue")
    assert browser.status_code == 303
    assert browser.headers["location"].startswith("/login?next=")
