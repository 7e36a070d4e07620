"""The short-term search (one or two characters) through ``customer_gram`` (migration 0018), on
SQLite and PostgreSQL: it finds exactly the customers the plain substring match finds, over
generated names, and the grams follow every write of a name, contact person or contact."""

from __future__ import annotations

import csv

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from archive.customer_query import CustomerFilter, like_condition, list_customers, text_condition
from archive.users import create_user
from models import repo
from models.customer import Customer, CustomerCreate, normalize_customer_name
from models.repo.merge import merge_customer_into
from models.search_gram import CustomerGram, lookup_grams
from tests.fixtures.db import make_uscc

# Chinese, ASCII of both cases, full-width and NFKC-changed forms, brackets, spaces and the
# LIKE wildcards and escape character: what could make the gram rule and LIKE disagree.
ALPHABET = "华星辰王李张有限公司伟芳AaBbZz（）() 　ＡＢ１ﬀ㈱%_/1-·"
NAMES = st.text(alphabet=ALPHABET, min_size=1, max_size=8).filter(lambda s: s.strip())
TERMS = st.text(alphabet=ALPHABET, min_size=1, max_size=2).filter(lambda s: s.strip())


def _ids(session: Session, condition) -> set[int]:
    return set(session.exec(select(Customer.id).where(condition)).all())


def _grams(session: Session, customer_id: int | None) -> set[str]:
    query = select(CustomerGram.gram).where(CustomerGram.customer_id == customer_id)
    return set(session.exec(query).all())


def _found(session: Session, term: str) -> set[str]:
    """Codes of the customers the search finds (through the gram path: asserted)."""
    assert lookup_grams(term, normalize_customer_name(term)) is not None
    return set(session.exec(select(Customer.code).where(text_condition(term))).all())


def _enterprise(name: str, n: int, **more: object) -> dict:
    return {
        "name": name,
        "customer_type": "enterprise",
        "uscc": make_uscc(n),
        "legal_representative": "王五",
        "established_date": "2015-03-12",
        "address": "北京市海淀区中关村大街1号",
        **more,
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    people=st.lists(
        st.tuples(NAMES, st.none() | NAMES, st.lists(NAMES, max_size=2)), min_size=1, max_size=5
    ),
    terms=st.lists(TERMS, min_size=1, max_size=6),
    picks=st.lists(st.tuples(st.integers(0, 40), st.integers(1, 2)), max_size=4),
)
def test_the_gram_path_finds_what_the_plain_match_finds(session, people, terms, picks):
    try:
        values = []
        for name, person, contact_names in people:
            customer = repo.create_customer_from_document(
                session,
                data={"name": name, "customer_type": "enterprise", "contact_person": person},
                actor="t",
            )
            values += [customer.name_key or "", customer.contact_person or ""]
            for contact in contact_names:
                values.append(repo.add_contact(session, customer_code=customer.code,
                                               data={"name": contact}, actor="t").name)  # fmt: skip
        # Terms drawn from the stored values too (so that most of them match something).
        text = "".join(values)
        terms = [*terms, *(text[i % len(text) : i % len(text) + n] for i, n in picks if text)]
        for term in (t.strip() for t in terms):
            if not term:
                continue
            assert _ids(session, text_condition(term)) == _ids(session, like_condition(term)), term
        gram_terms = [t for t in ("华星", "王", "有限", "（华") if any(t in v for v in values)]
        for term in gram_terms:  # the gram path taken, and finding something
            assert lookup_grams(term, normalize_customer_name(term)) is not None
            assert (
                _ids(session, text_condition(term)) == _ids(session, like_condition(term)) != set()
            )
    finally:
        session.rollback()


def test_terms_that_could_match_ascii_columns_take_the_plain_path() -> None:
    for term in ("13", "CU", "a", "ＣＵ", "1", "ı"):  # "ı".upper() == "I"
        assert lookup_grams(term, normalize_customer_name(term)) is None, term
    assert lookup_grams("星辰宏", "星辰宏") is None  # three characters: trigrams
    assert lookup_grams("华", "华") == {"华"}
    assert lookup_grams("A华", "A华") == {"a华"}  # ASCII folded (SQLite's LIKE ignores case)
    assert lookup_grams("㈱华", normalize_customer_name("㈱华")) == {"(株", "㈱华"}


def test_grams_follow_create_edit_and_contacts(session):
    customer = repo.create_customer(
        session, data=_enterprise("星辰科技有限公司", 1, contact_person="张伟"), actor="t"
    )
    assert {"星辰", "张伟", "星", "伟"} <= _grams(session, customer.id)
    assert _found(session, "星辰") == {customer.code} == _found(session, "张伟")
    repo.update_customer(
        session, code=customer.code, changes={"name": "宏远贸易有限公司", "contact_person": "李娜"},
        actor="t",
    )  # fmt: skip
    assert _found(session, "星辰") == set() == _found(session, "张伟")
    assert _found(session, "宏远") == {customer.code} == _found(session, "李娜")
    assert "星辰" not in _grams(session, customer.id)

    contact = repo.add_contact(session, customer_code=customer.code, data={"name": "赵敏"},
                               actor="t")  # fmt: skip
    assert _found(session, "赵敏") == {customer.code}
    repo.update_contact(session, contact=contact, changes={"name": "孙丽"}, actor="t")
    assert (_found(session, "赵敏"), _found(session, "孙丽")) == (set(), {customer.code})
    repo.update_contact(session, contact=contact, changes={"title": "经理"}, actor="t")
    assert _found(session, "孙丽") == {customer.code}  # a change of another field keeps them
    repo.delete_contact(session, contact=contact, actor="t")
    assert _found(session, "孙丽") == set()
    assert _grams(session, customer.id) == _expected(session, customer.id)


def _expected(session: Session, customer_id: int | None) -> set[str]:
    from models.contact import Contact
    from models.search_gram import search_grams

    customer = session.get(Customer, customer_id)
    assert customer is not None
    names = session.exec(select(Contact.name).where(Contact.customer_id == customer_id)).all()
    return search_grams([customer.name_key, customer.contact_person, *names])


def test_grams_follow_a_merge(session):
    kept = repo.create_customer(session, data=_enterprise("星辰科技有限公司", 1), actor="t")
    duplicate = repo.create_customer(
        session, data=_enterprise("星辰科技（北京）有限公司", 2, contact_person="周杰"), actor="t"
    )
    repo.add_contact(session, customer_code=duplicate.code, data={"name": "吴刚"}, actor="t")
    duplicate_id = duplicate.id
    merge_customer_into(session, kept=kept, duplicate=duplicate, actor="t")
    assert _grams(session, duplicate_id) == set()
    assert _found(session, "吴刚") == {kept.code}  # the moved contact is found on the kept one
    assert _found(session, "周杰") == set()  # the duplicate's own contact person went with it
    assert _grams(session, kept.id) == _expected(session, kept.id)
    # The list itself (count and page) through the gram path, as the web and CLI ask it.
    admin = create_user(session, username="a1", password="secret-pw3", role="admin", actor="t")
    page, total = list_customers(session, admin, CustomerFilter(text=" 吴刚 "))
    assert ([c.code for c in page], total) == ([kept.code], 1)
    page, total = list_customers(session, admin, CustomerFilter(text="星"), sort="-name")
    assert ([c.code for c in page], total) == ([kept.code], 1)


def test_grams_of_a_bulk_import(session):
    rows = [
        CustomerCreate.model_validate(_enterprise(name, n, contact_person=person))
        for n, (name, person) in enumerate(
            [
                ("星辰科技有限公司", "张伟"),
                ("宏远贸易有限公司", "李娜"),
                ("Ａｃｍｅ华星公司", None),
            ],
            start=1,
        )
    ]
    codes = repo.create_customers(session, rows=rows, actor="t")
    assert _found(session, "张伟") == {codes[0]}
    assert _found(session, "宏远") == {codes[1]}
    assert _found(session, "华星") == {codes[2]}
    assert _found(session, "有限") == {codes[0], codes[1]}
    ids = session.exec(select(Customer.id).where(col(Customer.code).in_(codes))).all()
    for customer_id in ids:
        assert _grams(session, customer_id) == _expected(session, customer_id) != set()


def test_grams_follow_a_file_import_and_its_updates(session, tmp_path):
    from archive.exchange.importing import import_file
    from config.settings import load_settings

    admin = create_user(session, username="ada", password="secret-pw3", role="admin", actor="t")
    settings = load_settings()
    path = tmp_path / "customers.csv"

    def write(person: str) -> None:
        rows = [["客户名称", "客户类型", "统一社会信用代码", "法定代表人", "成立时间", "地址",
                 "联系人"]]  # fmt: skip
        rows += [[f"星辰{n}号科技有限公司", "企业客户", make_uscc(n), "张三", "2015-03-12",
                  "北京市海淀区中关村大街1号", person] for n in range(1, 4)]  # fmt: skip
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows)

    write("周杰")
    assert import_file(session, settings, admin, path).created == 3
    assert len(_found(session, "周杰")) == 3 == len(_found(session, "星辰"))
    write("吴刚")
    assert import_file(session, settings, admin, path).updated == 3
    assert (len(_found(session, "周杰")), len(_found(session, "吴刚"))) == (0, 3)
