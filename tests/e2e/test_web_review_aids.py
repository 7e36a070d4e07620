# ruff: noqa: F811  (pytest fixtures imported from test_web_http)
"""HTTP tests of what helps a reviewer decide fast: a first-page thumbnail on each queue row
(drawn once, cached, shown only to who may see the document) and field doubts highlighted on
the document page with their Chinese reasons (a difference from the customer's record
included; a value a person corrected no longer doubted). SQLite and PostgreSQL, real app.
"""

from __future__ import annotations

import io
import re

from PIL import Image
from sqlmodel import Session

from models import repo
from models.document import Document
from tests.e2e.test_web_http import (  # noqa: F401
    WebWorld,
    app,
    client_of,
    csrf_from,
    web_store,
    world,
)
from web.render import THUMB_WIDTH, thumbnail_cache_key


def _doc(world: WebWorld, label: str) -> Document:
    with Session(world.engine) as session:
        doc = session.get(Document, world.documents[label])
        assert doc is not None
        return doc


def test_queue_rows_show_a_cached_first_page_thumbnail(client_of, world: WebWorld) -> None:
    reviewer = client_of("rev1")
    queue = reviewer.get("/queue").text
    for label in ("a", "b", "clean"):
        doc_id = world.documents[label]
        assert f'<img class="queue-thumb" src="/documents/{doc_id}/thumbnail.png"' in queue
    doc = _doc(world, "a")
    first = reviewer.get(f"/documents/{doc.id}/thumbnail.png")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.headers["cache-control"].startswith("private")
    image = Image.open(io.BytesIO(first.content))
    assert image.width == THUMB_WIDTH and image.height < image.width  # a landscape license
    assert world.store.exists(thumbnail_cache_key(sha256=doc.pdf_sha256 or ""))
    world.store.delete(doc.pdf_key or "")  # a second view must not need the PDF
    second = reviewer.get(f"/documents/{doc.id}/thumbnail.png")
    assert second.status_code == 200 and second.content == first.content


def test_a_thumbnail_is_access_controlled_like_its_document(client_of, world: WebWorld) -> None:
    sales = client_of("sales1")
    assert sales.get(f"/documents/{world.documents['b']}/thumbnail.png").status_code == 404
    assert sales.get(f"/documents/{world.documents['a']}/thumbnail.png").status_code == 200
    queue = sales.get("/queue").text
    assert f"/documents/{world.documents['b']}/thumbnail.png" not in queue


def test_without_a_pdf_the_thumbnail_comes_from_an_image_original(
    client_of, world: WebWorld
) -> None:
    with Session(world.engine) as session:
        doc = session.get(Document, world.documents["clean"])
        assert doc is not None
        doc.pdf_key, doc.pdf_sha256 = None, None
        session.add(doc)
        session.commit()
    response = client_of("rev1").get(f"/documents/{world.documents['clean']}/thumbnail.png")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).width == THUMB_WIDTH
    original = _doc(world, "clean").original_sha256 or ""
    assert world.store.exists(thumbnail_cache_key(sha256=original))


def _field_label(page: str, name: str) -> str:
    match = re.search(rf'<label class="field[^"]*"[^>]*data-field="{name}">.*?</label>', page, re.S)
    assert match, name
    return match.group(0)


def test_doubtful_fields_are_highlighted_with_their_chinese_reasons(
    client_of, world: WebWorld
) -> None:
    doc = _doc(world, "a")
    fields = dict(doc.fields)
    fields["address"] = {
        "value": "杭州市西湖区文三路94号",
        "confidence": 0.5,
        "page": 1,
        "reasons": ["trimmed_date"],
    }
    fields["legal_representative"] = {
        "value": "张3",
        "confidence": 0.5,
        "page": 1,
        "reasons": ["person_name_implausible", "reread"],
    }
    fields["name"] = {**fields["name"], "reasons": ["reread"]}  # informational only
    fields["_differences"] = [
        {
            "field": "address",
            "record": "北京市海淀区中关村大街1号",
            "document": "杭州市西湖区文三路94号",
        }
    ]
    with Session(world.engine) as session:
        repo.update_document(
            session, document_id=doc.id or 0, changes={"fields": fields}, actor="test"
        )
        session.commit()
    reviewer = client_of("rev1")
    page = reviewer.get(f"/documents/{doc.id}").text
    address = _field_label(page, "address")
    assert 'class="field doubtful"' in address
    assert 'data-reasons="trimmed_date field_mismatch"' in address
    assert "已截去混入的日期" in address and "与客户档案不一致" in address
    person = _field_label(page, "legal_representative")
    assert 'data-reasons="person_name_implausible"' in person and "不像人名" in person
    assert "reread" not in person
    name = _field_label(page, "name")
    assert "doubtful" not in name and "data-reasons" not in name

    form = {
        "csrf_token": csrf_from(page),
        "field__legal_representative": "张三",
        "document_type": "business_license",
    }
    reviewer.post(f"/documents/{doc.id}/correct", data=form)
    corrected = _field_label(reviewer.get(f"/documents/{doc.id}").text, "legal_representative")
    assert "doubtful" not in corrected and "不像人名" not in corrected
