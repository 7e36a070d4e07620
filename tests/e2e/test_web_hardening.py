"""The web UI's hardening over real HTTP (uvicorn on 127.0.0.1, httpx), SQLite and PostgreSQL.

Ids in paths never reach the database unless the database can hold them (404, not 500);
errors answer JSON to programs and a Chinese page to browsers.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine

from archive.storage import LocalObjectStore, ObjectStore
from config import Settings, load_settings
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
def serve(world: WebWorld) -> Iterator[Callable[..., str]]:
    """``serve(**create_app_kwargs)``: the app under uvicorn in a thread; its base URL."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(*, settings: Settings | None = None, **kwargs: object) -> str:
        app = create_app(settings or world.settings, engine=world.engine, store=world.store,
                         **kwargs)
        port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 15
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for server, thread in running:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture
def base_url(serve: Callable[..., str]) -> str:
    return serve()


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


def test_loopback_site_has_plain_cookie_and_security_headers(base_url: str) -> None:
    with signed_in(base_url, "admin") as client:
        response = client.get("/queue")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in response.headers
    login_page = httpx.get(f"{base_url}/login")
    assert "secure" not in login_page.headers["set-cookie"].lower()


def test_public_host_gets_secure_cookie_and_hsts(world: WebWorld, serve) -> None:  # type: ignore[no-untyped-def]
    base_url = serve(host="0.0.0.0")  # as `dossier web --host 0.0.0.0` behind a TLS proxy
    response = httpx.get(f"{base_url}/login")
    assert "; secure" in response.headers["set-cookie"].lower()
    assert "httponly" in response.headers["set-cookie"].lower()
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["x-frame-options"] == "DENY"


def test_secure_cookie_setting_overrides_the_host(world: WebWorld, serve) -> None:  # type: ignore[no-untyped-def]
    on = world.settings.model_copy(update={"web_secure_cookies": True})
    response = httpx.get(f"{serve(settings=on)}/login")
    assert "; secure" in response.headers["set-cookie"].lower()
    off = world.settings.model_copy(update={"web_secure_cookies": False})
    response = httpx.get(f"{serve(settings=off, host='0.0.0.0')}/login")
    assert "secure" not in response.headers["set-cookie"].lower()
    assert "strict-transport-security" not in response.headers
