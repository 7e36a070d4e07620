"""Repository functions on SQLite and PostgreSQL: codes, uniqueness, audit, atomicity, versions."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import repo
from models.audit import AuditEvent
from models.customer import Customer, CustomerCodeCounter
from models.document import Document
from models.errors import ValidationError
from tests.fixtures.db import make_id_number, make_uscc

SHA_A = "a" * 64
SHA_B = "b" * 64
MAY = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)


def enterprise(n: int, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": f"测试企业{n}有限公司",
        "customer_type": "enterprise",
        "uscc": make_uscc(n),
        "legal_representative": "张三",
        "established_date": "2015-03-12",
        "address": "上海市浦东新区世纪大道100号",
    }
    values.update(overrides)
    return values


def person(n: int, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": f"客户{n}",
        "customer_type": "individual",
        "id_number": make_id_number(n),
    }
    values.update(overrides)
    return values


def document(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "document_type": "business_license",
        "submitted_date": "2024-05-06",
        "original_filename": "执照.pdf",
        "original_sha256": SHA_A,
        "original_size": 100,
    }
    values.update(overrides)
    return values


def count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# --- customer codes ---------------------------------------------------------------------------


def test_codes_follow_the_month_and_count_up(session: Session) -> None:
    codes = [
        repo.create_customer(session, data=enterprise(n), actor="alice", now=MAY).code
        for n in range(1, 4)
    ]
    assert codes == ["CUS202405001", "CUS202405002", "CUS202405003"]
    june = repo.create_customer(
        session, data=person(1), actor="alice", now=datetime(2024, 6, 1, tzinfo=UTC)
    )
    assert june.code == "CUS202406001"
    # 2024-06-30 17:00 UTC is already July in China (UTC+8).
    july = repo.create_customer(
        session, data=person(2), actor="alice", now=datetime(2024, 6, 30, 17, 0, tzinfo=UTC)
    )
    assert july.code == "CUS202407001"


def test_a_refused_customer_gives_its_number_back(session: Session) -> None:
    repo.create_customer(session, data=enterprise(1), actor="a", now=MAY)
    with pytest.raises(repo.ConflictError):
        repo.create_customer(session, data=enterprise(2, uscc=make_uscc(1)), actor="a", now=MAY)
    assert repo.create_customer(session, data=enterprise(3), actor="a", now=MAY).code == (
        "CUS202405002"
    )


def test_codes_already_taken_are_skipped(session: Session) -> None:
    first = repo.create_customer(session, data=enterprise(1), actor="a", now=MAY)
    counter = session.get(CustomerCodeCounter, "202405")
    assert counter is not None
    counter.last_seq = 0  # as if customers had been imported without the counter
    session.add(counter)
    session.flush()
    second = repo.create_customer(session, data=enterprise(2), actor="a", now=MAY)
    assert (first.code, second.code) == ("CUS202405001", "CUS202405002")


def test_concurrent_creations_get_distinct_codes(engine: Engine) -> None:
    workers, per_worker = 4, 3
    barrier = threading.Barrier(workers)
    codes: list[str] = []
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(per_worker):
                with Session(engine) as s:
                    customer = repo.create_customer(
                        s, data=enterprise(100 + w * 10 + i), actor=f"u{w}", now=MAY
                    )
                    time.sleep(0.02)  # hold the transaction open so that others queue
                    s.commit()
                    codes.append(customer.code)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    expected = {f"CUS202405{n:03d}" for n in range(1, workers * per_worker + 1)}
    assert set(codes) == expected
    assert len(codes) == len(expected)


# --- uniqueness and atomicity -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        (enterprise(1), enterprise(2, uscc=make_uscc(1).lower()), "uscc"),
        (person(1), person(2, id_number=make_id_number(1)), "id_number"),
    ],
)
def test_uscc_and_id_number_are_unique(
    session: Session, first: dict, second: dict, field: str
) -> None:
    existing = repo.create_customer(session, data=first, actor="a")
    events = count(session, AuditEvent)
    with pytest.raises(repo.ConflictError) as info:
        repo.create_customer(session, data=second, actor="a")
    assert info.value.field == field
    assert info.value.existing == existing.code
    assert existing.code in info.value.message
    assert count(session, Customer) == 1
    assert count(session, AuditEvent) == events


def test_customers_without_uscc_or_id_number_coexist(session: Session) -> None:
    for name in ("某某商贸", "某某物流"):
        repo.create_customer_from_document(
            session, data={"name": name, "customer_type": "enterprise"}, actor="system"
        )
    assert count(session, Customer) == 2


def test_a_conflicting_concurrent_insert_is_refused(engine: Engine) -> None:
    outcome: list[BaseException | str] = []
    with Session(engine) as first:
        repo.create_customer(first, data=enterprise(1), actor="a")

        def second() -> None:
            try:
                with Session(engine) as s:
                    repo.create_customer(s, data=enterprise(2, uscc=make_uscc(1)), actor="b")
                    s.commit()
                    outcome.append("committed")
            except BaseException as e:  # noqa: BLE001 - inspected below
                outcome.append(e)

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)  # the second transaction now waits on the first
        first.commit()
        thread.join(timeout=60)
    assert len(outcome) == 1
    assert isinstance(outcome[0], repo.ConflictError)
    assert outcome[0].field == "uscc"
    with Session(engine) as s:
        assert count(s, Customer) == 1


def test_invalid_values_leave_nothing_behind(engine: Engine) -> None:
    with Session(engine) as s:
        user = repo.ensure_user(s, username="alice")
        before = (count(s, Customer), count(s, AuditEvent), count(s, CustomerCodeCounter))
        with pytest.raises(ValidationError) as info:
            repo.create_customer(s, data=enterprise(1, phone="1234"), actor="alice")
        assert info.value.field == "phone"
        with pytest.raises(ValidationError) as info:
            repo.create_customer(s, data=enterprise(2, owner_id=9999), actor="alice")
        assert info.value.field == "owner_id"
        with pytest.raises(ValidationError) as info:
            repo.create_document(s, data=document(customer_id=9999), actor="alice")
        assert info.value.field == "customer_id"
        s.commit()  # the user created before the refusals is kept
        assert user.id is not None
    with Session(engine) as s:
        assert (count(s, Customer), count(s, AuditEvent), count(s, CustomerCodeCounter)) == before
        assert count(s, Document) == 0
        assert repo.get_user(s, username="alice") is not None


# --- audit trail ------------------------------------------------------------------------------


def test_every_change_appends_an_audit_event(session: Session) -> None:
    owner = repo.ensure_user(session, username="alice", role="sales", actor="admin")
    customer = repo.create_customer(session, data=person(3), actor="alice")
    repo.update_customer(
        session,
        code=customer.code,
        changes={
            "status": "意向客户",
            "contact_person": "客户3",
            "phone": "13800138000",
            "industry": "零售",
            "level": "C类小客户",
            "owner_id": owner.id,
        },
        actor="alice",
    )
    repo.add_contact(session, customer_code=customer.code, data={"name": "李四"}, actor="alice")
    doc = repo.create_document(session, data=document(customer_id=customer.id), actor="system")
    repo.update_document(session, document_id=doc.id, changes={"status": "archived"}, actor="bob")
    run = repo.start_ingest_run(session, host="scanner-1")
    repo.finish_ingest_run(session, run_id=run.id, counts={"archived": 1})

    actions = [e.action for e in repo.list_audit_events(session)]
    assert actions == [
        "user.create",
        "customer.create",
        "customer.update",
        "contact.create",
        "document.create",
        "document.update",
        "ingest_run.start",
        "ingest_run.finish",
    ]
    create, update = repo.list_audit_events(session, entity_type="customer")
    assert create.actor == "alice" and create.entity_id == customer.code
    assert create.after is not None
    assert create.after["id_number"] != make_id_number(3)  # never stored in full
    assert create.after["id_number"].endswith(make_id_number(3)[-4:])
    assert update.before == {
        "contact_person": None,
        "phone": None,
        "industry": None,
        "level": None,
        "status": "prospect",
        "owner_id": None,
    }
    assert update.after is not None and update.after["status"] == "interested"
    (doc_update,) = [
        e
        for e in repo.list_audit_events(session, entity_type="document", entity_id=doc.id)
        if e.action == "document.update"
    ]
    assert (doc_update.before, doc_update.after) == (
        {"status": "pending_review"},
        {"status": "archived"},
    )


def test_updating_a_customer_revalidates_the_whole_record(session: Session) -> None:
    customer = repo.create_customer(session, data=enterprise(1), actor="a")
    with pytest.raises(ValidationError) as info:
        repo.update_customer(session, code=customer.code, changes={"status": "won"}, actor="a")
    assert info.value.field == "contact_person"
    session.refresh(customer)
    assert customer.status == "prospect"
    with pytest.raises(repo.NotFoundError):
        repo.update_customer(session, code="CUS190001001", changes={"name": "x"}, actor="a")


def test_customer_from_document_drops_invalid_values(session: Session) -> None:
    customer = repo.create_customer_from_document(
        session,
        data={
            "name": "  某某科技（上海）有限公司 ",
            "customer_type": "enterprise",
            "uscc": "91310000XXXXXXXXX0",
            "established_date": "2015-02-30",
            "legal_representative": "赵六",
        },
        actor="system",
    )
    assert customer.name == "某某科技（上海）有限公司"
    assert customer.status == "prospect"
    assert (customer.uscc, customer.established_date) == (None, None)
    assert customer.legal_representative == "赵六"
    (event,) = repo.list_audit_events(session, entity_type="customer")
    assert event.detail is not None and "uscc" in event.detail
    with pytest.raises(ValidationError) as info:
        repo.create_customer_from_document(session, data={"name": "无类型"}, actor="system")
    assert info.value.field == "customer_type"


# --- queries ----------------------------------------------------------------------------------


def test_customer_queries(session: Session) -> None:
    alice = repo.ensure_user(session, username="alice")
    bob = repo.ensure_user(session, username="bob", role="reviewer")
    assert repo.ensure_user(session, username="alice", role="admin").role == "sales"
    a = repo.create_customer(session, data=enterprise(1, owner_id=alice.id), actor="alice")
    b = repo.create_customer(session, data=person(1, owner_id=bob.id), actor="bob")
    assert repo.get_customer(session, code=a.code.lower()) == a
    assert repo.get_customer(session, code="CUS000000000") is None
    assert repo.find_customers(session, uscc=make_uscc(1).lower()) == [a]
    assert repo.find_customers(session, id_number=make_id_number(1)) == [b]
    assert repo.find_customers(session, name="测试企业") == [a]
    assert repo.find_customers(session) == []
    assert repo.list_customers(session, owner_id=alice.id) == [a]
    assert repo.list_customers(session, customer_type="individual") == [b]
    assert repo.list_customers(session, limit=1, offset=1) == [b]
    contact = repo.add_contact(
        session,
        customer_code=a.code,
        data={"name": "李四", "phones": ["010-12345678", "13900139000"], "is_primary": True},
        actor="alice",
    )
    assert repo.list_contacts(session, customer_id=a.id) == [contact]
    assert contact.phones == ["010-12345678", "13900139000"]
    with pytest.raises(ValidationError):
        repo.ensure_user(session, username="carol", role="boss")


def test_document_queries(session: Session) -> None:
    customer = repo.create_customer(session, data=enterprise(1), actor="a")
    d1 = repo.create_document(
        session, data=document(customer_id=customer.id, pdf_sha256=SHA_B), actor="a"
    )
    d2 = repo.create_document(
        session,
        data=document(document_type="id_card", original_sha256=SHA_B.upper(), status="archived"),
        actor="a",
    )
    assert repo.get_document(session, document_id=d1.id) == d1
    assert repo.find_documents_by_sha256(session, sha256=SHA_B) == [d1, d2]
    assert repo.find_documents_by_sha256(session, sha256=SHA_A) == [d1]
    assert repo.list_documents(session) == [d2, d1]
    assert repo.list_documents(session, status="archived") == [d2]
    assert repo.list_documents(session, customer_id=customer.id) == [d1]
    assert repo.list_documents(session, document_type="id_card") == [d2]
    with pytest.raises(ValidationError) as info:
        repo.update_document(session, document_id=d1.id, changes={"pdf_sha256": SHA_A}, actor="a")
    assert info.value.field == "pdf_sha256"
    with pytest.raises(ValidationError):
        repo.update_document(session, document_id=d1.id, changes={"status": "lost"}, actor="a")
    with pytest.raises(repo.NotFoundError):
        repo.update_document(session, document_id=999, changes={"status": "archived"}, actor="a")


def test_version_chain(session: Session) -> None:
    customer = repo.create_customer(session, data=enterprise(1), actor="a")
    v1 = repo.create_document(
        session, data=document(customer_id=customer.id, status="archived"), actor="a"
    )
    assert (
        repo.current_document_of_type(
            session, customer_id=customer.id, document_type="business_license"
        )
        == v1
    )
    v2 = repo.create_document(
        session,
        data=document(customer_id=customer.id, supersedes_id=v1.id, original_sha256=SHA_B),
        actor="a",
    )
    repo.update_document(session, document_id=v2.id, changes={"status": "archived"}, actor="r")
    repo.update_document(
        session,
        document_id=v1.id,
        changes={"status": "superseded"},
        actor="r",
        action="document.supersede",
    )
    v3 = repo.create_document(
        session,
        data=document(customer_id=customer.id, supersedes_id=v2.id, original_sha256="c" * 64),
        actor="a",
    )
    assert [d.id for d in repo.document_versions(session, document_id=v1.id)] == [
        v3.id,
        v2.id,
        v1.id,
    ]
    assert [d.id for d in repo.document_versions(session, document_id=v3.id)] == [
        v3.id,
        v2.id,
        v1.id,
    ]
    assert (
        repo.current_document_of_type(
            session, customer_id=customer.id, document_type="business_license"
        )
        == v2
    )  # v3 is still pending review
    with pytest.raises(ValidationError) as info:
        repo.create_document(session, data=document(supersedes_id=12345), actor="a")
    assert info.value.field == "supersedes_id"


def test_session_scope_commits_on_success_and_rolls_back_on_error(engine: Engine) -> None:
    from models.db import session_scope

    with session_scope(engine) as s:
        repo.ensure_user(s, username="alice")
    with pytest.raises(ValidationError):
        with session_scope(engine) as s:
            repo.ensure_user(s, username="bob")
            repo.create_customer(s, data=enterprise(1, email="bad"), actor="bob")
    with Session(engine) as s:
        assert repo.get_user(s, username="alice") is not None
        assert repo.get_user(s, username="bob") is None
