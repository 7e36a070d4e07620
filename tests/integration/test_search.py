"""Full-text search on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm), in Chinese, with
permissions, kept in sync by the database when documents change."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from archive.search import make_snippet, normalize_query, search_documents
from models import repo
from models.customer import Customer
from models.user import User
from tests.integration.test_review import add_customer, add_document, add_user


@pytest.fixture
def world(session: Session) -> dict[str, object]:
    r1 = add_user(session, "reviewer1", "reviewer")
    s1 = add_user(session, "sales1", "sales")
    s2 = add_user(session, "sales2", "sales")
    acme = add_customer(session, 1, name="北京某某科技有限公司", owner=s1)
    other = add_customer(session, 2, name="上海另一家贸易有限公司", owner=s2)
    license_doc = add_document(
        session,
        None,
        customer=acme,
        seed=1,
        text="营业执照 名称 北京某某科技有限公司 住所 北京市海淀区中关村大街1号 经营范围 软件开发",
    )
    permit = add_document(
        session,
        None,
        customer=other,
        seed=2,
        document_type="bank_permit",
        text="开户许可证 核准号 J1000123456 开户银行 中国工商银行上海分行",
    )
    return {
        "r1": r1,
        "s1": s1,
        "s2": s2,
        "acme": acme,
        "other": other,
        "license": license_doc,
        "permit": permit,
    }


def ids(hits) -> set[int]:  # type: ignore[no-untyped-def]
    return {h.document_id for h in hits}


def test_chinese_substrings_of_three_or_more_characters(session: Session, world) -> None:  # type: ignore[no-untyped-def]
    r1 = world["r1"]
    assert ids(search_documents(session, query="中关村大街", user=r1)) == {world["license"].id}
    assert ids(search_documents(session, query="工商银行", user=r1)) == {world["permit"].id}
    assert ids(search_documents(session, query="有限公司", user=r1)) == {
        world["license"].id,
        world["permit"].id,
    }
    assert search_documents(session, query="不存在的文字", user=r1) == []
    hit = search_documents(session, query="中关村大街", user=r1)[0]
    assert "中关村大街" in hit.snippet and hit.customer_code == world["acme"].code


def test_one_and_two_character_queries(session: Session, world) -> None:  # type: ignore[no-untyped-def]
    r1 = world["r1"]
    assert ids(search_documents(session, query="软件", user=r1)) == {world["license"].id}
    assert ids(search_documents(session, query="沪", user=r1)) == set()
    assert ids(search_documents(session, query="海", user=r1)) == {
        world["license"].id,
        world["permit"].id,
    }


def test_latin_search_is_case_insensitive_and_wildcards_are_literal(
    session: Session, world
) -> None:  # type: ignore[no-untyped-def]
    r1 = world["r1"]
    assert ids(search_documents(session, query="j1000123456", user=r1)) == {world["permit"].id}
    assert search_documents(session, query="%", user=r1) == []
    assert search_documents(session, query="_", user=r1) == []
    assert search_documents(session, query="   ", user=r1) == []


def test_field_values_and_file_names_are_searchable_and_kept_in_sync(
    session: Session, world
) -> None:  # type: ignore[no-untyped-def]
    r1, doc = world["r1"], world["license"]
    assert search_documents(session, query="法定代表人王小明", user=r1) == []
    fields = {**doc.fields, "legal_representative": {"value": "法定代表人王小明", "page": 1}}
    repo.update_document(session, document_id=doc.id, changes={"fields": fields}, actor="t")
    session.commit()
    assert ids(search_documents(session, query="王小明", user=r1)) == {doc.id}
    assert ids(search_documents(session, query="扫描件1.pdf", user=r1)) == {doc.id}
    repo.update_document(
        session, document_id=doc.id, changes={"ocr_text": "新的文字内容"}, actor="t"
    )
    session.commit()
    assert search_documents(session, query="中关村大街", user=r1) == []
    assert ids(search_documents(session, query="新的文字", user=r1)) == {doc.id}


def test_search_respects_ownership(session: Session, world) -> None:  # type: ignore[no-untyped-def]
    s1: User = world["s1"]  # type: ignore[assignment]
    acme: Customer = world["acme"]  # type: ignore[assignment]
    assert ids(search_documents(session, query="有限公司", user=s1)) == {world["license"].id}
    assert search_documents(session, query="工商银行", user=s1) == []
    assert acme.owner_id == s1.id


def test_helpers() -> None:
    assert normalize_query("  ＡＢＣ　 北京 ") == "ABC 北京"
    assert make_snippet("前" * 50 + "目标" + "后" * 50, "目标", context=3) == "…前前前目标后后后…"
