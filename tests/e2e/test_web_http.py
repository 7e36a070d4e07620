"""HTTP tests of the review web UI (FastAPI TestClient over the real app, SQLite and PostgreSQL).

Covers permissions (a sales user gets 404 for another owner's customer and document; a
reviewer cannot manage users), CSRF (POSTs without the token are refused with 403), login
throttling, downloads streamed from the store, page images cached in the store, claims, the
approve -> next-in-queue flow, search, upload and the audit page.

The builders at the top (``WebWorld``, ``make_world``, ``login``) are shared with
tests/e2e/test_browser.py.
"""

from __future__ import annotations

import hashlib
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from archive import users as user_service
from archive.naming import archive_key, original_key
from archive.storage import LocalObjectStore, ObjectStore
from bench.samples import generate, write_sample
from config import Settings, load_settings
from models import repo
from models.audit import AuditEvent
from models.document import Document
from tests.fixtures.db import make_uscc
from web.app import SESSION_COOKIE, create_app
from web.render import page_cache_key

PASSWORD = "correct-horse-42"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- builders (shared with test_browser.py) ---------------------------------------------------


@dataclass
class WebWorld:
    """Users, two customers owned by two sales users, and pending documents with real PDFs."""

    settings: Settings
    engine: Engine
    store: ObjectStore
    customers: dict[str, str] = field(default_factory=dict)  # label -> customer code
    documents: dict[str, int] = field(default_factory=dict)  # label -> document id
    pdf_bytes: dict[str, bytes] = field(default_factory=dict)
    original_bytes: dict[str, bytes] = field(default_factory=dict)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add_document(
    world: WebWorld,
    session: Session,
    *,
    label: str,
    customer_code: str | None,
    seed: int,
    reasons: tuple[str, ...] = ("low_ocr_confidence",),
    submitted: date | None = None,
    workdir: Path,
) -> int:
    """Store a generated business-license PDF and its PNG original, and record a document.

    The submitted date defaults to 2026-11-<seed>, so documents get distinct keys.
    """
    submitted = submitted or date(2026, 11, seed)
    taxonomy = world.settings.taxonomy
    sample = generate("business_license", seed=seed, dpi=100)
    pdf_path = write_sample(sample, workdir / f"{label}.pdf")
    png_path = write_sample(sample, workdir / f"{label}.png")
    pdf, png = pdf_path.read_bytes(), png_path.read_bytes()
    customer = repo.get_customer(session, code=customer_code) if customer_code else None
    names = {
        "templates": taxonomy.templates,
        "customer_type_label": taxonomy.customer_type(customer.customer_type).label
        if customer
        else None,
        "customer_name": customer.name if customer else None,
        "document_type_label": "营业执照",
        "submitted": submitted,
    }
    pdf_key = archive_key(**names)
    orig_key = original_key(**names, original_ext=".png")
    world.store.put(pdf_key, pdf_path, content_type="application/pdf", sha256=_sha256(pdf))
    world.store.put(orig_key, png_path, content_type="image/png", sha256=_sha256(png))
    truth = sample.truth["fields"]
    doc = repo.create_document(
        session,
        data={
            "customer_id": customer.id if customer else None,
            "document_type": "business_license",
            "submitted_date": submitted,
            "original_filename": f"扫描件-{label}.png",
            "original_key": orig_key,
            "original_sha256": _sha256(png),
            "original_size": len(png),
            "pdf_key": pdf_key,
            "pdf_sha256": _sha256(pdf),
            "pdf_size": len(pdf),
            "page_count": 1,
            "ocr_text": "营业执照 " + " ".join(str(v) for v in truth.values() if v),
            "ocr_confidence": 0.71,
            "fields": {
                "name": {"value": truth["name"], "confidence": 0.97, "page": 1, "reason": None},
                "uscc": {
                    "value": truth["uscc"],
                    "confidence": 0.41,
                    "page": 1,
                    "reasons": ["uscc_corrected"],
                },
                "legal_representative": {
                    "value": truth["legal_representative"],
                    "confidence": 0.9,
                    "page": 1,
                },
            },
            "review_reasons": list(reasons),
            "submitted_by": "scanner",
        },
        actor="system",
        taxonomy=taxonomy,
    )
    session.commit()
    world.documents[label] = doc.id or 0
    world.pdf_bytes[label] = pdf
    world.original_bytes[label] = png
    return doc.id or 0


def add_customer(session: Session, *, name: str, n: int, owner: str) -> str:
    """An enterprise customer owned by ``owner``; returns its code."""
    owner_user = repo.get_user(session, username=owner)
    customer = repo.create_customer(
        session,
        data={
            "name": name,
            "customer_type": "enterprise",
            "uscc": make_uscc(n),
            "legal_representative": "张三",
            "established_date": "2015-03-12",
            "address": "北京市海淀区中关村大街1号",
            "owner_id": owner_user.id if owner_user else None,
        },
        actor="system",
    )
    session.commit()
    return customer.code


def make_world(
    *, settings: Settings, engine: Engine, store: ObjectStore, workdir: Path
) -> WebWorld:
    """admin, rev1, rev2 (reviewers), sales1, sales2; customer A (sales1), B (sales2).

    Documents: ``a`` (customer A, anomaly), ``b`` (customer B, anomaly), ``clean`` (customer A,
    only the soft reason ``second_check``).
    """
    world = WebWorld(settings=settings, engine=engine, store=store)
    workdir.mkdir(parents=True, exist_ok=True)
    with Session(engine, expire_on_commit=False) as session:
        for username, role in (
            ("admin", "admin"),
            ("rev1", "reviewer"),
            ("rev2", "reviewer"),
            ("sales1", "sales"),
            ("sales2", "sales"),
        ):
            user_service.create_user(
                session, username=username, password=PASSWORD, role=role,
                display_name={"rev1": "王审核", "rev2": "李审核"}.get(username), actor="test",
            )
        session.commit()
        world.customers["A"] = add_customer(session, name="北京甲科技有限公司", n=1, owner="sales1")
        world.customers["B"] = add_customer(session, name="上海乙贸易有限公司", n=2, owner="sales2")
        add_document(world, session, label="a", customer_code=world.customers["A"], seed=1,
                     workdir=workdir)
        add_document(world, session, label="b", customer_code=world.customers["B"], seed=2,
                     workdir=workdir)
        add_document(world, session, label="clean", customer_code=world.customers["A"], seed=3,
                     reasons=("second_check",), workdir=workdir)
    return world


def csrf_from(html: str) -> str:
    """The CSRF token in a page's first form."""
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    """Sign in through the login form (with its CSRF token)."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def web_store(tmp_path: Path) -> ObjectStore:
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    return store


def _settings(tmp_path: Path, db_url: str) -> Settings:
    s = load_settings(home=tmp_path / "home", database_url=db_url, max_file_mb=1)
    s.ensure_dirs()
    return s


@pytest.fixture
def world(tmp_path: Path, db_url: str, engine: Engine, web_store: ObjectStore) -> WebWorld:
    return make_world(settings=_settings(tmp_path, db_url), engine=engine, store=web_store,
                      workdir=tmp_path / "samples")


@pytest.fixture
def app(world: WebWorld):  # type: ignore[no-untyped-def]
    return create_app(world.settings, engine=world.engine, store=world.store)


@pytest.fixture
def client_of(app) -> Iterator:  # type: ignore[no-untyped-def]
    """``client_of(username)``: a signed-in TestClient (each with its own cookies)."""
    clients: list[TestClient] = []

    def make(username: str) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        return login(client, username)

    yield make
    for c in clients:
        c.close()


def _document(world: WebWorld, label: str) -> Document:
    with Session(world.engine) as session:
        doc = session.get(Document, world.documents[label])
        assert doc is not None
        return doc


def _events(world: WebWorld, document_id: int) -> list[AuditEvent]:
    with Session(world.engine) as session:
        query = (
            select(AuditEvent)
            .where(AuditEvent.entity_type == "document", AuditEvent.entity_id == str(document_id))
            .order_by(col(AuditEvent.id))
        )
        return list(session.exec(query).all())


# --- sign-in, session, secret -----------------------------------------------------------------


def test_pages_need_login_and_cookie_is_httponly_samesite(app, world: WebWorld) -> None:
    with TestClient(app) as client:
        response = client.get("/queue", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
        login_page = client.get("/login")
        assert "登录" in login_page.text
        cookie = login_page.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    secret = Path(world.settings.home) / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_login_throttling_is_visible(app) -> None:
    with TestClient(app) as client:
        token = csrf_from(client.get("/login").text)
        for _ in range(5):
            wrong = client.post("/login", data={"username": "rev1", "password": "nope-nope",
                                                "csrf_token": token})
            assert wrong.status_code == 401
            assert "用户名或密码错误" in wrong.text
        locked = client.post("/login", data={"username": "rev1", "password": PASSWORD,
                                             "csrf_token": token})
        assert locked.status_code == 429
        assert "登录失败次数过多" in locked.text
        assert client.get("/queue", follow_redirects=False).status_code == 303


# --- CSRF -------------------------------------------------------------------------------------


def test_posts_without_csrf_token_are_refused(app, client_of, world: WebWorld) -> None:
    with TestClient(app) as anonymous:
        refused = anonymous.post("/login", data={"username": "rev1", "password": PASSWORD})
        assert refused.status_code == 403
    reviewer = client_of("rev1")
    doc_id = world.documents["a"]
    for data in ({}, {"csrf_token": "forged"}):
        response = reviewer.post(f"/documents/{doc_id}/approve", data=data)
        assert response.status_code == 403
        assert "表单已过期" in response.text
    assert reviewer.post(f"/documents/{doc_id}/reject", data={"reason": "x"}).status_code == 403
    assert _document(world, "a").status == "pending_review"


# --- permissions ------------------------------------------------------------------------------


def test_sales_gets_404_for_another_owners_document_and_customer(
    client_of, world: WebWorld
) -> None:
    sales = client_of("sales1")
    other_doc, own_doc = world.documents["b"], world.documents["a"]
    for path in (
        f"/documents/{other_doc}",
        f"/documents/{other_doc}/pdf",
        f"/documents/{other_doc}/original",
        f"/documents/{other_doc}/pages/1.png",
        f"/customers/{world.customers['B']}",
    ):
        assert sales.get(path).status_code == 404, path
    own = sales.get(f"/documents/{own_doc}")
    assert own.status_code == 200
    assert "北京甲科技有限公司" in own.text
    assert 'id="approve-button"' not in own.text  # sales cannot approve
    assert sales.get(f"/customers/{world.customers['A']}").status_code == 200
    queue = sales.get("/queue").text
    assert f"#{own_doc}<" in queue and f"#{other_doc}<" not in queue
    token = csrf_from(own.text)
    refused = sales.post(f"/documents/{own_doc}/approve", data={"csrf_token": token})
    assert refused.status_code == 403
    hidden = sales.post(f"/documents/{other_doc}/approve", data={"csrf_token": token})
    assert hidden.status_code == 404
    assert _document(world, "a").status == "pending_review"


def test_reviewer_cannot_manage_users_admin_can(client_of, world: WebWorld) -> None:
    reviewer = client_of("rev1")
    assert reviewer.get("/users").status_code == 403
    token = csrf_from(reviewer.get("/queue").text)
    created = reviewer.post("/users", data={"csrf_token": token, "username": "eve",
                                            "password": "password-123", "role": "admin"})
    assert created.status_code == 403
    assert reviewer.post("/users/sales1/role",
                         data={"csrf_token": token, "role": "admin"}).status_code == 403
    assert reviewer.get("/audit").status_code == 200
    admin = client_of("admin")
    page = admin.get("/users")
    assert page.status_code == 200 and "用户管理" in page.text
    response = admin.post("/users", data={"csrf_token": csrf_from(page.text), "username": "eve",
                                          "password": "password-123", "role": "sales"},
                          follow_redirects=False)
    assert response.status_code == 303
    with Session(world.engine) as session:
        eve = repo.get_user(session, username="eve")
        assert eve is not None and eve.role == "sales"
        assert repo.get_user(session, username="sales1").role == "sales"  # type: ignore[union-attr]
    assert client_of("sales1").get("/audit").status_code == 403


# --- document page, claims, decisions ---------------------------------------------------------


def test_queue_lists_anomalies_first_with_reason_counts(client_of, world: WebWorld) -> None:
    page = client_of("rev1").get("/queue")
    assert page.status_code == 200
    assert "待审核队列" in page.text and "OCR 置信度低 2" in page.text
    order = [int(i) for i in re.findall(r'data-id="(\d+)"', page.text)]
    assert order == [world.documents["a"], world.documents["b"], world.documents["clean"]]
    filtered = client_of("rev2").get("/queue", params={"reason": "second_check"})
    assert [int(i) for i in re.findall(r'data-id="(\d+)"', filtered.text)] == [
        world.documents["clean"]
    ]


def test_claim_is_shown_to_another_reviewer(client_of, world: WebWorld) -> None:
    doc_id = world.documents["a"]
    first = client_of("rev1").get(f"/documents/{doc_id}")
    assert first.status_code == 200 and 'id="approve-button"' in first.text
    assert _document(world, "a").claimed_by == "rev1"
    second = client_of("rev2").get(f"/documents/{doc_id}")
    assert "由 rev1 处理中" in second.text
    assert 'id="approve-button"' not in second.text


def test_approve_with_correction_then_next_in_queue(client_of, world: WebWorld) -> None:
    reviewer = client_of("rev1")
    doc_id = world.documents["a"]
    page = reviewer.get(f"/documents/{doc_id}")
    assert "doubtful" in page.text and "校验位经 OCR 纠错" in page.text
    response = reviewer.post(
        f"/documents/{doc_id}/approve",
        data={"csrf_token": csrf_from(page.text), "field__legal_representative": "赵六",
              "document_type": "business_license", "submitted_date": "2026-11-01"},
    )
    assert response.status_code == 200
    assert str(response.url).endswith(f"/documents/{world.documents['b']}")
    assert f"资料 #{doc_id} 已审核通过" in response.text
    doc = _document(world, "a")
    assert doc.status == "archived" and doc.reviewed_by == "rev1"
    assert doc.fields["legal_representative"]["value"] == "赵六"
    actions = [e.action for e in _events(world, doc_id)]
    assert "document.correct" in actions and actions[-1] == "document.approve"


def test_reject_needs_a_reason_and_is_audited(client_of, world: WebWorld) -> None:
    reviewer = client_of("rev1")
    doc_id = world.documents["b"]
    token = csrf_from(reviewer.get(f"/documents/{doc_id}").text)
    empty = reviewer.post(f"/documents/{doc_id}/reject", data={"csrf_token": token, "reason": ""})
    assert "请填写驳回原因" in empty.text
    assert _document(world, "b").status == "pending_review"
    reviewer.post(f"/documents/{doc_id}/reject", data={"csrf_token": token, "reason": "照片模糊"})
    assert _document(world, "b").status == "rejected"
    rejected = [e for e in _events(world, doc_id) if e.action == "document.reject"]
    assert rejected and rejected[0].detail == "照片模糊" and rejected[0].actor == "rev1"
    again = reviewer.post(f"/documents/{doc_id}/approve", data={"csrf_token": token})
    assert "已驳回" in again.text  # invalid transition shown, nothing changed
    assert _document(world, "b").status == "rejected"


# --- page images and downloads ----------------------------------------------------------------


def test_page_image_is_rendered_once_and_cached(client_of, world: WebWorld) -> None:
    reviewer = client_of("rev1")
    doc = _document(world, "a")
    first = reviewer.get(f"/documents/{doc.id}/pages/1.png")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.content.startswith(b"\x89PNG")
    key = page_cache_key(pdf_sha256=doc.pdf_sha256 or "", page=1)
    assert world.store.exists(key)
    world.store.delete(doc.pdf_key or "")  # a second view must not need the PDF
    second = reviewer.get(f"/documents/{doc.id}/pages/1.png")
    assert second.status_code == 200 and second.content == first.content
    assert reviewer.get(f"/documents/{doc.id}/pages/2.png").status_code == 404


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_downloads_stream_stored_bytes_on_both_stores(
    tmp_path: Path, db_url: str, engine: Engine, store: ObjectStore
) -> None:
    world = make_world(settings=_settings(tmp_path, db_url), engine=engine, store=store,
                       workdir=tmp_path / "samples")
    app = create_app(world.settings, engine=engine, store=store)
    with TestClient(app) as client:
        login(client, "rev1")
        doc_id = world.documents["a"]
        pdf = client.get(f"/documents/{doc_id}/pdf")
        assert pdf.status_code == 200 and pdf.content == world.pdf_bytes["a"]
        disposition = pdf.headers["content-disposition"]
        assert "filename*=UTF-8''" in disposition and "%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7" in (
            disposition
        )
        original = client.get(f"/documents/{doc_id}/original")
        assert original.status_code == 200 and original.content == world.original_bytes["a"]
        store.delete(_document(world, "a").original_key or "")
        assert client.get(f"/documents/{doc_id}/original").status_code == 404


# --- search, upload, audit --------------------------------------------------------------------


def test_search_respects_visibility(client_of, world: WebWorld) -> None:
    name_b = _document(world, "b").fields["name"]["value"]
    found = client_of("rev1").get("/search", params={"q": name_b})
    assert f'href="/documents/{world.documents["b"]}"' in found.text
    hidden = client_of("sales1").get("/search", params={"q": name_b})
    assert hidden.status_code == 200
    assert f'href="/documents/{world.documents["b"]}"' not in hidden.text


def test_upload_goes_into_a_per_user_intake_folder(client_of, world: WebWorld) -> None:
    sales = client_of("sales1")
    token = csrf_from(sales.get("/upload").text)
    ok = sales.post(
        "/upload",
        data={"csrf_token": token},
        files=[("files", ("../../客户/营业执照.pdf", world.pdf_bytes["a"], "application/pdf")),
               ("files", (".hidden.part", world.pdf_bytes["b"], "application/octet-stream"))],
    )
    assert ok.status_code == 200, ok.text
    folder = Path(world.settings.intake_dir or "") / "sales1"
    names = sorted(p.name for p in folder.iterdir())  # each with its hidden submitter sidecar
    assert [n for n in names if not n.startswith(".")] == ["hidden.part_", "营业执照.pdf"]
    assert len(names) == 4 and all(n.startswith(".dropped-") for n in names[:2])
    assert (folder / "营业执照.pdf").read_bytes() == world.pdf_bytes["a"]
    big = ("big.pdf", b"x" * (1024 * 1024 + 1), "application/pdf")
    too_big = sales.post("/upload", data={"csrf_token": token}, files=[("files", big)])
    assert too_big.status_code == 413 and "超过 1 MB" in too_big.text
    assert sorted(p.name for p in folder.iterdir()) == names


def test_audit_page_filters_by_document_and_user(client_of, world: WebWorld) -> None:
    reviewer = client_of("rev1")
    doc_id = world.documents["a"]
    reviewer.get(f"/documents/{doc_id}")  # claim -> audited
    page = reviewer.get("/audit", params={"document": str(doc_id), "user": "rev1"})
    assert page.status_code == 200
    assert 'data-action="document.claim"' in page.text and "领取审核" in page.text
    assert 'data-action="document.create"' not in page.text  # by "system", filtered out
