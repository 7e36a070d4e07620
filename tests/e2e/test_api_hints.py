"""Upload hints over real HTTP (uvicorn, httpx) on SQLite and PostgreSQL: the customer and
document type given with an API upload are applied by the intake when the content says nothing
else (a page no rule recognises, naming no known customer), and content wins over a hint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.engine import Engine
from sqlmodel import Session

from archive.storage import LocalObjectStore, ObjectStore
from models import repo
from tests.e2e.test_api_http import API, _scan, client, token_for
from tests.e2e.test_web_hardening import serve  # noqa: F401  (fixture)
from tests.e2e.test_web_http import WebWorld, make_world
from tests.fixtures.ingest import open_services, test_settings

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def world(tmp_path: Path, db_url: str, engine: Engine) -> WebWorld:
    store: ObjectStore = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    settings = test_settings(home=tmp_path / "home", database_url=db_url, max_file_mb=2)
    return make_world(settings=settings, engine=engine, store=store, workdir=tmp_path / "samples")


def _unrecognisable_page(path: Path, title: str) -> bytes:
    """A scan no classification rule recognises and that names no customer."""
    image = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=56)
    for n, line in enumerate([title, "Agenda: room booking", "Next week: review"]):
        draw.text((120, 200 + n * 120), line, fill=0, font=font)
    image.save(path, dpi=(150, 150))
    return path.read_bytes()


def _run_intake(world: WebWorld) -> None:
    from app.intake_pass import run_pass

    with open_services(settings=world.settings, engine=world.engine, store=world.store) as s:
        run_pass(s, settle=False)


def _filed(api: httpx.Client, status_url: str) -> dict:
    status = api.get(status_url.removeprefix(API)).json()
    assert status["status"] == "filed", status
    (document,) = status["documents"]
    return api.get(f"/documents/{document['id']}").json()


def test_api_upload_hints_link_the_customer_and_set_the_type(
    world: WebWorld,
    serve: Callable[..., str],  # noqa: F811
    tmp_path: Path,
) -> None:
    base_url = serve()
    code_a = world.customers["A"]
    page = _unrecognisable_page(tmp_path / "notes.png", "MEETING NOTES")
    other_page = _unrecognisable_page(tmp_path / "other.png", "TRAVEL PLAN")
    license_scan = _scan(tmp_path, 77)  # a license naming a company nobody knows yet
    with client(base_url, token_for(world, "sales1")) as api:
        hinted = api.post(
            "/documents",
            files={"file": ("会议纪要.png", page, "image/png")},
            data={"customer": code_a.lower(), "document_type": "contract"},
        )
        assert hinted.status_code == 202, hinted.text
        assert (hinted.json()["customer"], hinted.json()["document_type"]) == (code_a, "contract")
        plain = api.post("/documents", files={"file": ("无提示.png", other_page, "image/png")})
        assert plain.status_code == 202, plain.text
        overridden = api.post(
            "/documents",
            files={"file": ("营业执照.png", license_scan, "image/png")},
            data={"customer": code_a, "document_type": "id_card"},
        )
        assert overridden.status_code == 202, overridden.text
    _run_intake(world)
    with client(base_url, token_for(world, "admin")) as api:
        doc = _filed(api, hinted.json()["status_url"])
        assert doc["document_type"] == "contract" and doc["customer"]["code"] == code_a, doc
        assert doc["fields"]["_meta"]["type_from_hint"] is True
        assert doc["fields"]["_linked_by_hint"] == code_a
        reasons = {r["code"] for r in doc["review_reasons"]}
        assert not reasons & {"unknown_type", "unlinked"}, reasons

        unhinted = _filed(api, plain.json()["status_url"])
        assert unhinted["document_type"] == "other" and unhinted["customer"] is None
        assert {"unknown_type", "unlinked"} <= {r["code"] for r in unhinted["review_reasons"]}

        content = _filed(api, overridden.json()["status_url"])
        assert content["document_type"] == "business_license", content["document_type"]
        assert content["customer"] is not None and content["customer"]["code"] != code_a
        assert "type_from_hint" not in content["fields"]["_meta"]
    with Session(world.engine) as session:
        customer = repo.get_customer(session, code=content["customer"]["code"])
        assert customer is not None and customer.name != "北京甲科技有限公司"
