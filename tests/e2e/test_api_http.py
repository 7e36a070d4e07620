"""The REST API over real HTTP (uvicorn on 127.0.0.1, httpx) on SQLite and PostgreSQL.

Tokens (forged, malformed, expired, revoked, disabled user: 401), a sales token's isolation
(404 for another owner's customer and documents), an upload retried with the same
``Idempotency-Key`` filed once and followed to its document, ETag/If-Match (428, 412, 409),
structured validation errors, downloads with SHA-256 and ETag, the body limit and the rate limit.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from archive import tokens
from archive import users as user_service
from archive.storage import LocalObjectStore, ObjectStore
from bench.samples import generate, write_sample
from models import repo
from models.api_token import ApiToken, ApiUpload
from models.db import utcnow
from tests.e2e.test_web_hardening import serve, signed_in  # noqa: F401  (serve: fixture)
from tests.e2e.test_web_http import WebWorld, make_world
from tests.fixtures.ingest import open_services, test_settings

pytestmark = pytest.mark.timeout(600)
API = "/api/v1"


@pytest.fixture
def world(tmp_path: Path, db_url: str, engine: Engine) -> WebWorld:
    store: ObjectStore = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    settings = test_settings(home=tmp_path / "home", database_url=db_url, max_file_mb=1)
    return make_world(settings=settings, engine=engine, store=store, workdir=tmp_path / "samples")


@pytest.fixture
def base_url(serve: Callable[..., str]) -> str:  # noqa: F811
    return serve()


def token_for(world: WebWorld, username: str, *, expires_days: int | None = None) -> str:
    with Session(world.engine, expire_on_commit=False) as session:
        actor = repo.get_user(session, username=username)
        assert actor is not None
        token, _row = tokens.create_token(session, actor, name="测试", expires_days=expires_days)
        session.commit()
    return token


def client(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url + API, headers=headers, timeout=60)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    assert "field" in error
    return error


def test_token_lifecycle(world: WebWorld, base_url: str) -> None:
    token = token_for(world, "sales1")
    with client(base_url, token) as api:
        assert api.get("/documents").status_code == 200
    with Session(world.engine) as session:
        row = repo.find_api_token(session, token=token)
        assert row is not None and row.last_used_at is not None
        assert row.token_sha256 != token and token not in row.token_sha256
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (forged, "dsr_" + "x" * 43):
        with client(base_url, bad) as api:
            assert_error(api.get("/documents"), 401, "authentication")
    malformed = httpx.get(f"{base_url}{API}/documents", headers={"Authorization": "Basic eDp5"})
    assert_error(malformed, 401, "authentication")
    assert_error(httpx.get(f"{base_url}{API}/documents"), 401, "authentication")

    expiring = token_for(world, "sales1", expires_days=1)
    with Session(world.engine) as session:  # a day later
        row = repo.find_api_token(session, token=expiring)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    with client(base_url, expiring) as api:
        assert_error(api.get("/documents"), 401, "authentication")

    with client(base_url, token) as api:  # revoke it with itself: the next request is refused
        mine = api.get("/tokens").json()["items"]
        assert {t["live"] for t in mine} == {True, False} and all("token" not in t for t in mine)
        live = next(t for t in mine if t["live"])
        assert api.delete(f"/tokens/{live['id']}").json()["revoked_at"]
        assert_error(api.get("/documents"), 401, "authentication")

    other = token_for(world, "sales2")
    with Session(world.engine) as session:
        user_service.disable_user(session, username="sales2", actor="admin")
        session.commit()
    with client(base_url, other) as api:
        assert_error(api.get("/documents"), 401, "authentication")


def test_tokens_managed_by_their_user_or_an_admin(world: WebWorld, base_url: str) -> None:
    with client(base_url, token_for(world, "sales1")) as sales:
        created = sales.post("/tokens", json={"name": "脚本", "expires_days": 30})
        assert created.status_code == 201 and created.json()["token"].startswith("dsr_")
        assert_error(sales.post("/tokens", json={"username": "sales2"}), 403, "permission_denied")
        refused = sales.post("/tokens", json={"expires_days": 0})
        assert assert_error(refused, 422, "validation")["field"] == "expires_days"
    with client(base_url, token_for(world, "sales2")) as other:  # not theirs: 404
        assert_error(other.delete(f"/tokens/{created.json()['id']}"), 404, "not_found")
    with client(base_url, token_for(world, "admin")) as admin:
        made = admin.post("/tokens", json={"username": "sales2", "name": "代建"}).json()
        assert made["username"] == "sales2"
        assert admin.delete(f"/tokens/{created.json()['id']}").status_code == 200
    with Session(world.engine) as session:
        actions = [e.action for e in repo.list_audit_events(session, entity_type="api_token")]
        assert actions.count("api_token.create") >= 4 and "api_token.revoke" in actions


def test_sales_token_sees_only_its_own_customers(world: WebWorld, base_url: str) -> None:
    a, b = world.customers["A"], world.customers["B"]
    doc_b = world.documents["b"]
    with client(base_url, token_for(world, "sales1")) as api:
        listed = api.get("/documents").json()
        codes = {d["customer"]["code"] for d in listed["items"]}
        assert codes == {a} and listed["next_cursor"] is None
        assert [c["code"] for c in api.get("/customers").json()["items"]] == [a]
        assert api.get(f"/customers/{a}").status_code == 200
        for path in (f"/customers/{b}", f"/documents/{doc_b}", f"/documents/{doc_b}/pdf",
                     f"/documents/{doc_b}/original"):  # fmt: skip
            assert_error(api.get(path), 404, "not_found")
        assert_error(api.patch(f"/customers/{b}", json={"notes": "x"},
                               headers={"If-Match": '"v1"'}), 404, "not_found")  # fmt: skip
        assert_error(api.post(f"/review/{doc_b}/reject", json={"reason": "x"}), 404, "not_found")
        queue = api.get("/review/queue").json()
        assert {i["customer"]["code"] for i in queue["items"]} == {a}
        assert_error(api.get("/integrity/runs"), 403, "permission_denied")
    with client(base_url, token_for(world, "rev1")) as reviewer:
        assert reviewer.get(f"/documents/{doc_b}").json()["customer"]["code"] == b
        page = reviewer.get("/documents", params={"limit": 2}).json()
        rest = reviewer.get("/documents", params={"cursor": page["next_cursor"]}).json()
        ids = [d["id"] for d in page["items"] + rest["items"]]
        assert sorted(ids, reverse=True) == ids and len(set(ids)) == 3


def test_download_carries_sha256_and_etag(world: WebWorld, base_url: str) -> None:
    doc = world.documents["a"]
    with client(base_url, token_for(world, "sales1")) as api:
        for kind, data in (("pdf", world.pdf_bytes["a"]), ("original", world.original_bytes["a"])):
            response = api.get(f"/documents/{doc}/{kind}")
            assert response.status_code == 200
            digest = hashlib.sha256(response.content).hexdigest()
            assert response.content == data
            assert response.headers["x-checksum-sha256"] == digest
            assert response.headers["etag"] == f'"{digest}"'
            again = api.get(f"/documents/{doc}/{kind}", headers={"If-None-Match": f'"{digest}"'})
            assert again.status_code == 304 and again.content == b""
        record = api.get(f"/documents/{doc}").json()
        assert record["pdf_sha256"] == hashlib.sha256(world.pdf_bytes["a"]).hexdigest()
        assert record["id"] == doc and record["status_label"]


def test_customer_update_needs_the_current_etag(world: WebWorld, base_url: str) -> None:
    code = world.customers["A"]
    with client(base_url, token_for(world, "sales1")) as api:
        first = api.get(f"/customers/{code}")
        tag = first.headers["etag"]
        assert tag == f'"v{first.json()["version"]}"'
        assert_error(api.patch(f"/customers/{code}", json={"notes": "无"}), 428,
                     "precondition_required")  # fmt: skip
        saved = api.patch(f"/customers/{code}", json={"notes": "首次"}, headers={"If-Match": tag})
        assert saved.status_code == 200, saved.text
        assert saved.json()["notes"] == "首次" and saved.headers["etag"] != tag
        stale = api.patch(f"/customers/{code}", json={"notes": "再次"}, headers={"If-Match": tag})
        assert assert_error(stale, 412, "precondition_failed")["field"] == "If-Match"
        b_uscc = _uscc_of(world, world.customers["B"])
        taken = api.patch(f"/customers/{code}", json={"uscc": b_uscc},
                          headers={"If-Match": saved.headers["etag"]})  # fmt: skip
        assert assert_error(taken, 409, "conflict")["field"] == "uscc"
        bad = api.post("/customers", json={"name": "测试公司", "customer_type": "enterprise",
                                           "uscc": "91110000ABCDEFGH12"})  # fmt: skip
        error = assert_error(bad, 422, "validation")
        assert error["field"] == "uscc" and error["rule"] and "统一社会信用代码" in error["message"]
        unknown = api.post("/customers", json={"name": "某公司", "colour": "red"})
        assert assert_error(unknown, 422, "validation")["rule"] == "unknown_field"
        assert_error(api.post("/customers", content=b"[1", headers={
            "Content-Type": "application/json"}), 422, "validation")  # fmt: skip


def _uscc_of(world: WebWorld, code: str) -> str:
    with Session(world.engine) as session:
        customer = repo.get_customer(session, code=code)
        assert customer is not None and customer.uscc
        return customer.uscc


def _scan(tmp: Path, seed: int) -> bytes:
    sample = generate("business_license", seed=seed, dpi=100)
    return write_sample(sample, tmp / f"scan-{seed}.png").read_bytes()


def test_upload_retried_with_the_same_key_is_filed_once(
    world: WebWorld, base_url: str, tmp_path: Path
) -> None:
    data = _scan(tmp_path, 41)
    intake = Path(world.settings.intake_dir)
    with client(base_url, token_for(world, "sales1")) as api:
        sent = [
            api.post(
                "/documents",
                files={"file": ("营业执照.png", data, "image/png")},
                data={"customer": world.customers["A"]},
                headers={"Idempotency-Key": "scan-41"},
            )  # fmt: skip
            for _ in range(3)
        ]
        assert [r.status_code for r in sent] == [202, 200, 200], [r.text for r in sent]
        assert sent[1].headers["idempotent-replayed"] == "true"
        first = sent[0].json()
        assert {r.json()["id"] for r in sent} == {first["id"]}
        assert first["sha256"] == hashlib.sha256(data).hexdigest() and first["status"] == "queued"
        assert first["customer"] == world.customers["A"]
        dropped = [p for p in intake.rglob("*") if p.is_file() and not p.name.startswith(".")]
        assert len(dropped) == 1
        refused = api.post("/documents", files={"file": ("x.png", data, "image/png")},
                           data={"customer": world.customers["B"]})  # fmt: skip
        assert_error(refused, 404, "not_found")
        assert_error(api.post("/documents", data={"note": "x"}, files={}), 422, "validation")
    with client(base_url, token_for(world, "sales2")) as other:
        assert_error(other.get(first["status_url"].removeprefix(API)), 404, "not_found")
    with open_services(settings=world.settings, engine=world.engine, store=world.store) as s:
        from app.intake_pass import run_pass

        run_pass(s, settle=False)
    with client(base_url, token_for(world, "sales1")) as api:
        status = api.get(first["status_url"].removeprefix(API)).json()
        assert status["status"] == "filed", status
        (document,) = status["documents"]
        assert document["original_sha256"] == first["sha256"]
        assert api.get(f"/documents/{document['id']}").status_code == 200
        again = api.post("/documents", files={"file": ("again.png", data, "image/png")},
                         headers={"Idempotency-Key": "scan-41"})  # fmt: skip
        assert again.status_code == 200 and again.json()["status"] == "filed"
    with Session(world.engine) as session:
        assert len(repo.find_documents_by_sha256(session, sha256=first["sha256"])) == 1


def test_body_over_the_upload_limit_is_413(world: WebWorld, base_url: str) -> None:
    big = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)
    with client(base_url, token_for(world, "sales1")) as api:
        response = api.post("/documents", files={"file": ("big.pdf", big, "application/pdf")},
                            headers={"Idempotency-Key": "big"})  # fmt: skip
        assert_error(response, 413, "too_large")

        def chunks():  # no Content-Length: counted as it streams
            yield (
                b'--zzz\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
                b"Content-Type: application/pdf\r\n\r\n"
            )
            yield b"x" * (1024 * 1024)
            yield b"x" * (1024 * 1024)
            yield b"x" * (1024 * 1024)

        streamed = api.post("/documents", content=chunks(), headers={
            "Content-Type": "multipart/form-data; boundary=zzz"})  # fmt: skip
        assert_error(streamed, 413, "too_large")
    files = [p for p in Path(world.settings.intake_dir).rglob("*") if p.is_file()]
    assert files == []
    with Session(world.engine) as session:
        assert session.exec(select(ApiUpload)).all() == []


def test_rate_limit_per_token(world: WebWorld, serve: Callable[..., str]) -> None:  # noqa: F811
    base = serve(settings=world.settings.model_copy(update={"api_rate_limit_per_minute": 3}))
    one, two = token_for(world, "rev1"), token_for(world, "rev2")
    with client(base, one) as api:
        while int(time.time()) % 60 > 55:  # the four requests inside one minute window
            time.sleep(1)
        codes = [api.get("/documents").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = api.get("/documents")
        assert_error(limited, 429, "throttled")
        assert int(limited.headers["retry-after"]) in range(1, 61)  # seconds to the next window
    with client(base, two) as api:
        assert api.get("/documents").status_code == 200


def test_session_auth_schema_and_docs(world: WebWorld, base_url: str) -> None:
    with signed_in(base_url, "rev1") as browser:
        listed = browser.get(f"{API}/documents")
        assert listed.status_code == 200 and len(listed.json()["items"]) == 3
        no_csrf = browser.post(f"{API}/review/{world.documents['a']}/claim")
        assert_error(no_csrf, 403, "permission_denied")
    schema = httpx.get(f"{base_url}{API}/openapi.json").json()
    for path in ("/api/v1/documents", "/api/v1/documents/{document_id}/pdf",
                 "/api/v1/customers/{code}", "/api/v1/review/{document_id}/approve",
                 "/api/v1/uploads/{upload_id}", "/api/v1/integrity/runs/latest"):  # fmt: skip
        assert path in schema["paths"], path
    assert not any(p.startswith("/documents") for p in schema["paths"])
    docs = httpx.get(f"{base_url}{API}/docs")
    assert docs.status_code == 200 and "/api/v1/customers/{code}" in docs.text
    assert "<script" not in docs.text and "cdn" not in docs.text.lower()


def test_review_and_integrity_over_the_api(world: WebWorld, base_url: str) -> None:
    doc = world.documents["a"]
    with client(base_url, token_for(world, "rev1")) as api:
        assert api.post(f"/review/{doc}/claim").json()["id"] == doc
        empty = api.post(f"/review/{doc}/reject", json={"reason": "  "})
        assert assert_error(empty, 422, "validation")["field"] == "reason"
        rejected = api.post(f"/review/{doc}/reject", json={"reason": "照片模糊"})
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        assert_error(api.post(f"/review/{doc}/approve"), 409, "invalid_transition")
        assert api.get("/integrity/runs").json() == {"items": []}
        assert_error(api.get("/integrity/runs/latest"), 404, "not_found")
    with client(base_url, token_for(world, "rev2")) as other:
        clean = world.documents["clean"]
        assert other.post(f"/review/{clean}/claim").status_code == 200
    with client(base_url, token_for(world, "rev1")) as api:
        assert_error(api.post(f"/review/{world.documents['clean']}/claim"), 409, "conflict")


def test_tokens_never_stored_in_clear(world: WebWorld) -> None:
    token = token_for(world, "admin")
    with Session(world.engine) as session:
        stored = [r.token_sha256 for r in session.exec(select(ApiToken)).all()]
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


def test_upload_cut_off_mid_body_leaves_nothing(world: WebWorld, base_url: str) -> None:
    token = token_for(world, "sales1")
    host, port = base_url.removeprefix("http://").split(":")
    head = (
        b'--zzz\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
    )
    request = (
        f"POST {API}/documents HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Idempotency-Key: cut\r\nContent-Type: multipart/form-data; boundary=zzz\r\n"
        f"Content-Length: 500000\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request + head + b"0" * 1000)
    time.sleep(1.0)  # the server notices the disconnect
    assert [p for p in Path(world.settings.intake_dir).rglob("*") if p.is_file()] == []
    with Session(world.engine) as session:
        assert session.exec(select(ApiUpload)).all() == []
    data = b"%PDF-1.4\n" + b"0" * 1000  # the retry with the same key is taken
    with client(base_url, token) as api:
        retried = api.post("/documents", files={"file": ("a.pdf", data, "application/pdf")},
                           headers={"Idempotency-Key": "cut"})  # fmt: skip
        assert retried.status_code == 202, retried.text


def test_customer_list_filters_like_the_web_list(world: WebWorld, base_url: str) -> None:
    """The API's list uses the customer list's own conditions: tags, text, visibility."""
    from archive import tags as tag_service

    a, b = world.customers["A"], world.customers["B"]
    with Session(world.engine, expire_on_commit=False) as session:
        admin = repo.get_user(session, username="admin")
        assert admin is not None
        for name in ("制造业", "高价值"):
            tag_service.add_tag(session, admin, name)
        tag_service.tag_customer(session, admin, b, ["制造业", "高价值"])
        tag_service.tag_customer(session, admin, a, ["制造业"])
        session.commit()
    with client(base_url, token_for(world, "rev1")) as reviewer:

        def codes(**params: object) -> list[str]:
            response = reviewer.get("/customers", params=params)
            assert response.status_code == 200, response.text
            return sorted(c["code"] for c in response.json()["items"])

        assert codes(tag="制造业") == sorted([a, b])
        assert codes(tag=["制造业", "高价值"]) == [b]
        assert codes(name=b) == [b]
    with client(base_url, token_for(world, "sales1")) as sales:
        listed = sales.get("/customers", params={"tag": "高价值"}).json()["items"]
        assert listed == []  # B carries the tag but belongs to another owner


def test_unreadable_upload_is_refused_before_anything_is_written(
    world: WebWorld, base_url: str
) -> None:
    intake = Path(world.settings.intake_dir)
    with client(base_url, token_for(world, "sales1")) as api:
        refused = api.post(
            "/documents",
            files={"file": ("data.json", b'{"not": "a scan"}', "application/json")},
            headers={"Idempotency-Key": "json-1"},
        )
        assert_error(refused, 415, "unsupported")
    assert [p for p in intake.rglob("*") if p.is_file()] == []
    with Session(world.engine) as session:
        assert session.exec(select(ApiUpload)).all() == []  # no upload row either
