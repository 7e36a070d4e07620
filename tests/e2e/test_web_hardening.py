"""The web UI's hardening over real HTTP (uvicorn on 127.0.0.1, httpx), SQLite and PostgreSQL.

Ids in paths never reach the database unless the database can hold them (404, not 500);
errors answer JSON to programs and a Chinese page to browsers; sessions live on the server, so
signing out, ending a user's sessions, disabling them and expiry hold for copied cookies too,
and a role change applies to the next request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from archive.storage import LocalObjectStore, ObjectStore
from config import Settings, load_settings
from models import repo
from models.db import utcnow
from models.web_session import WebSession
from tests.e2e.test_web_http import PASSWORD, WebWorld, csrf_from, make_world
from web.app import SESSION_COOKIE, create_app
from web.sessions import SESSION_TOKEN


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
    assert anonymous.json()["error"] == {
        "code": "authentication", "message": "请先登录", "field": None
    }
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


# --- server-side sessions ---------------------------------------------------------------------


def _cookie_token(cookie: str) -> str:
    """The opaque session token inside the signed cookie (base64 JSON, then the signature)."""
    payload = cookie.split(".", 1)[0]
    return str(json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))[SESSION_TOKEN])


def _signed_out(base_url: str, cookie: str) -> bool:
    """Whether a browser holding ``cookie`` is sent to the sign-in page (and a program gets 401)."""
    with httpx.Client(base_url=base_url, cookies={SESSION_COOKIE: cookie}, timeout=30) as client:
        page = client.get("/queue")
        api = client.get("/queue", headers={"Accept": "application/json"})
    if page.status_code == 303:
        assert page.headers["location"].startswith("/login")
        assert api.status_code == 401
        return True
    assert page.status_code == 200 and api.status_code == 200, (page.status_code, api.status_code)
    return False


def _session_rows(world: WebWorld, username: str) -> list[WebSession]:
    with Session(world.engine) as session:
        user = repo.get_user(session, username=username)
        assert user is not None
        return list(session.exec(select(WebSession).where(WebSession.user_id == user.id)).all())


def test_cookie_captured_before_logout_is_refused_after(world: WebWorld, base_url: str) -> None:
    with signed_in(base_url, "rev1") as client:
        captured = client.cookies[SESSION_COOKIE]
        assert not _signed_out(base_url, captured)
        token = _cookie_token(captured)
        [row] = _session_rows(world, "rev1")
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest() != token
        page = client.get("/queue")
        logout = client.post("/logout", data={"csrf_token": csrf_from(page.text)})
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
    assert _signed_out(base_url, captured)
    [row] = _session_rows(world, "rev1")
    assert row.revoked_at is not None
    with Session(world.engine) as session:
        actions = [e.action for e in repo.list_audit_events(session, entity_type="user",
                                                            entity_id="rev1")]
    assert actions[-2:] == ["user.login", "user.logout"]


def test_admin_ends_a_users_sessions(world: WebWorld, base_url: str) -> None:
    with signed_in(base_url, "sales1") as phone, signed_in(base_url, "sales1") as desk, \
            signed_in(base_url, "admin") as admin:
        cookies = [phone.cookies[SESSION_COOKIE], desk.cookies[SESSION_COOKIE]]
        page = admin.get("/users")
        assert page.status_code == 200 and "结束全部会话" in page.text
        assert re.search(r"<strong>sales1</strong>.*?在线会话\">2</td>", page.text, re.S)
        ended = admin.post("/users/sales1/end-sessions",
                           data={"csrf_token": csrf_from(page.text)})
        assert ended.status_code == 303 and ended.headers["location"] == "/users"
        assert all(_signed_out(base_url, c) for c in cookies)
        after = admin.get("/users")
        assert after.status_code == 200 and "已结束 sales1 的全部会话" in after.text
        assert re.search(r"<strong>sales1</strong>.*?在线会话\">0</td>", after.text, re.S)
        assert phone.get("/queue").headers["location"].startswith("/login")
        with Session(world.engine) as session:
            event = repo.list_audit_events(session, entity_type="user", entity_id="sales1")[-1]
        assert (event.action, event.actor, event.detail) == (
            "user.end_sessions", "admin", "结束全部会话（2 个）")
        reviewer = signed_in(base_url, "rev1")
        with reviewer as rev:
            token = csrf_from(rev.get("/queue").text)
            assert rev.post("/users/admin/end-sessions",
                            data={"csrf_token": token}).status_code == 403
        assert not _signed_out(base_url, admin.cookies[SESSION_COOKIE])


def test_disabled_user_is_signed_out_at_once(world: WebWorld, base_url: str) -> None:
    with signed_in(base_url, "rev2") as rev2, signed_in(base_url, "admin") as admin:
        assert rev2.get("/queue").status_code == 200
        page = admin.get("/users")
        disabled = admin.post("/users/rev2/disable", data={"csrf_token": csrf_from(page.text)})
        assert disabled.status_code == 303
        assert _signed_out(base_url, rev2.cookies[SESSION_COOKIE])
        assert all(row.revoked_at is not None for row in _session_rows(world, "rev2"))
        again = httpx.Client(base_url=base_url, timeout=30)
        with again:
            token = csrf_from(again.get("/login").text)
            refused = again.post("/login", data={"username": "rev2", "password": PASSWORD,
                                                 "csrf_token": token})
            assert refused.status_code == 401


def test_role_change_applies_to_the_next_request(world: WebWorld, base_url: str) -> None:
    other_customer = world.documents["b"]  # customer B belongs to sales2
    with signed_in(base_url, "rev1") as rev1, signed_in(base_url, "admin") as admin:
        assert rev1.get("/audit").status_code == 200
        document = rev1.get(f"/documents/{other_customer}")
        assert document.status_code == 200 and 'id="approve-button"' in document.text
        page = admin.get("/users")
        changed = admin.post("/users/rev1/role",
                             data={"csrf_token": csrf_from(page.text), "role": "sales"})
        assert changed.status_code == 303
        assert rev1.get("/audit").status_code == 403  # the same session, now a sales user
        assert rev1.get(f"/documents/{other_customer}").status_code == 404
        admin.post("/users/rev1/role", data={"csrf_token": csrf_from(page.text),
                                             "role": "reviewer"})
        assert rev1.get("/audit").status_code == 200


def test_expired_session_is_refused_and_use_slides_the_expiry(
    world: WebWorld, base_url: str
) -> None:
    with signed_in(base_url, "rev1") as client:
        cookie = client.cookies[SESSION_COOKIE]
        digest = repo.token_digest(_cookie_token(cookie))
        now = utcnow()
        with Session(world.engine) as session:  # last used 10 minutes ago, 1 minute left
            row = session.exec(select(WebSession).where(WebSession.token_sha256 == digest)).one()
            row.last_seen_at = now - timedelta(minutes=10)
            row.expires_at = now + timedelta(minutes=1)
            session.add(row)
            session.commit()
        assert client.get("/queue").status_code == 200
        idle = timedelta(minutes=world.settings.web_session_idle_minutes)
        [row] = _session_rows(world, "rev1")
        assert row.expires_at >= now + idle - timedelta(minutes=1)  # slid forward
        with Session(world.engine) as session:
            row = session.exec(select(WebSession).where(WebSession.token_sha256 == digest)).one()
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)
            session.commit()
        assert _signed_out(base_url, cookie)
        assert client.get("/queue").headers["location"].startswith("/login")


def test_sign_in_deletes_sessions_older_than_the_absolute_limit(
    world: WebWorld, base_url: str
) -> None:
    absolute = timedelta(hours=world.settings.web_session_max_hours)
    with Session(world.engine) as session:
        user = repo.get_user(session, username="sales2")
        assert user is not None
        repo.create_web_session(session, user_id=int(user.id or 0), idle=absolute,
                                absolute=absolute, now=utcnow() - absolute - timedelta(hours=1))
        session.commit()
    assert len(_session_rows(world, "sales2")) == 1
    with signed_in(base_url, "rev1"):
        pass
    assert _session_rows(world, "sales2") == []


def test_signing_in_again_ends_the_cookies_previous_session(
    world: WebWorld, base_url: str
) -> None:
    with signed_in(base_url, "rev1") as client:
        first = client.cookies[SESSION_COOKIE]
        token = csrf_from(client.get("/login").text)
        again = client.post("/login", data={"username": "sales1", "password": PASSWORD,
                                            "csrf_token": token})
        assert again.status_code == 303
        assert client.get("/audit").status_code == 403  # now sales1
        assert _signed_out(base_url, first)
    assert [row.revoked_at is not None for row in _session_rows(world, "rev1")] == [True]


def test_session_lifetimes_are_settings(world: WebWorld, serve) -> None:  # type: ignore[no-untyped-def]
    short = world.settings.model_copy(update={"web_session_idle_minutes": 1,
                                              "web_session_max_hours": 2})
    base_url = serve(settings=short)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = csrf_from(client.get("/login").text)
        response = client.post("/login", data={"username": "rev1", "password": PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 303
        assert "max-age=7200" in response.headers["set-cookie"].lower()
    [row] = _session_rows(world, "rev1")
    assert timedelta(seconds=50) <= row.expires_at - row.created_at <= timedelta(minutes=1)
