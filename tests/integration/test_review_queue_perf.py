"""The fast review queue on SQLite and PostgreSQL: the stored ``is_anomaly`` flag, its index,
the order, totals and counts per reason against brute-force answers computed in Python.

The queue reads ``Document.is_anomaly`` (kept in sync by ``models.repo``) and the partial
covering index ``ix_document_queue`` (migration 0004); these tests hold its answers equal to
what the documents themselves say.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from archive import review
from config.taxonomy import load_taxonomy
from models import repo
from models.customer import Customer
from models.db import downgrade_to, make_engine, upgrade_to_head, utcnow
from models.document import Document, has_anomaly
from models.user import User
from tests.fixtures.db import make_id_number, make_uscc

TAX = load_taxonomy()
REASONS = ["expired", "unlinked", "low_ocr_confidence", "missing_field", "field_mismatch"]
TYPES = ["business_license", "bank_permit", "customer_form"]


# --- builders ---------------------------------------------------------------------------------


def add_user(session: Session, username: str, role: str) -> User:
    user = repo.ensure_user(session, username=username, role=role, actor="test")
    session.commit()
    return user


def add_customer(session: Session, n: int, *, owner: User, individual: bool = False) -> Customer:
    data = {"name": f"测试客户{n}有限公司", "owner_id": owner.id}
    if individual:
        data |= {"name": f"张{n}", "customer_type": "individual", "id_number": make_id_number(n)}
    else:
        data |= {
            "customer_type": "enterprise",
            "uscc": make_uscc(n),
            "legal_representative": "李四",
            "established_date": "2015-03-12",
            "address": "北京市海淀区某某路1号",
        }
    customer = repo.create_customer(session, actor="test", data=data)
    session.commit()
    return customer


def add_document(
    session: Session,
    *,
    n: int,
    customer: Customer | None,
    reasons: list[str],
    minutes_ago: int,
    document_type: str = "business_license",
    status: str = "pending_review",
) -> Document:
    digest = hashlib.sha256(f"document {n}".encode()).hexdigest()
    document = repo.create_document(
        session,
        actor="test",
        data={
            "customer_id": customer.id if customer else None,
            "document_type": document_type,
            "status": status,
            "submitted_date": date(2024, 5, 6),
            "original_filename": f"扫描件{n}.pdf",
            "original_sha256": digest,
            "original_size": 100 + n,
            "review_reasons": reasons,
            "submitted_by": "sales1",
        },
    )
    # created_at is set at insert time; the order under test needs distinct, known ages.
    document.created_at = utcnow() - timedelta(minutes=minutes_ago)
    session.add(document)
    session.commit()
    return document


def stored_flag(session: Session, document_id: int) -> bool:
    """``is_anomaly`` as the database holds it (not the identity map)."""
    statement = sa.select(Document.is_anomaly).where(Document.id == document_id)
    return bool(session.execute(statement).scalar_one())


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    return {
        "r1": add_user(session, "reviewer1", "reviewer"),
        "s1": add_user(session, "sales1", "sales"),
        "s2": add_user(session, "sales2", "sales"),
    }


@pytest.fixture
def corpus(session: Session, people: dict[str, User]) -> list[Document]:
    """40 documents of mixed reasons, ages, types, customers and statuses (seeded)."""
    rng = random.Random(4)
    customers = [
        add_customer(session, 1, owner=people["s1"]),
        add_customer(session, 2, owner=people["s2"]),
        add_customer(session, 3, owner=people["s1"], individual=True),
    ]
    documents = []
    ages = rng.sample(range(1, 10_000), 40)
    for n, minutes_ago in enumerate(ages):
        reasons = rng.sample(REASONS, rng.choice((0, 1, 1, 2)))
        if rng.random() < 0.4:
            reasons.append("second_check")
        status = rng.choice(["pending_review"] * 6 + ["updating", "archived", "rejected"])
        documents.append(
            add_document(
                session,
                n=n,
                customer=rng.choice([*customers, None]),
                reasons=reasons,
                minutes_ago=minutes_ago,
                document_type=rng.choice(TYPES),
                status=status,
            )
        )
    return documents


def expected_queue(session: Session, *, visible: set[int] | None = None) -> list[Document]:
    """Brute force: every queue document (optionally only those ids), in the queue's order."""
    session.expire_all()
    rows = session.exec(select(Document)).all()
    queue = [
        d
        for d in rows
        if d.status in ("pending_review", "updating") and (visible is None or d.id in visible)
    ]
    return sorted(queue, key=lambda d: (not has_anomaly(d.review_reasons), d.created_at, d.id))


def customer_of(session: Session, document: Document) -> Customer | None:
    return session.get(Customer, document.customer_id) if document.customer_id else None


# --- is_anomaly ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reasons", "anomaly"),
    [
        ([], False),
        (["second_check"], False),
        (["expired"], True),
        (["second_check", "unlinked"], True),
    ],
)
def test_is_anomaly_is_set_on_create(
    session: Session, people: dict[str, User], reasons: list[str], anomaly: bool
) -> None:
    document = add_document(session, n=1, customer=None, reasons=reasons, minutes_ago=1)
    assert stored_flag(session, document.id) is anomaly
    assert has_anomaly(reasons) is anomaly


def test_is_anomaly_follows_every_update_of_the_reasons(
    session: Session, people: dict[str, User]
) -> None:
    document = add_document(session, n=1, customer=None, reasons=["second_check"], minutes_ago=1)
    steps = [(["expired"], True), (["second_check"], False), (["unlinked", "expired"], True)]
    for reasons, anomaly in steps:
        repo.update_document(
            session, document_id=document.id, changes={"review_reasons": reasons}, actor="test"
        )
        session.commit()
        assert stored_flag(session, document.id) is anomaly, reasons
    # Changes that do not touch the reasons leave the flag alone.
    repo.update_document(
        session, document_id=document.id, changes={"status": "updating"}, actor="test"
    )
    session.commit()
    assert stored_flag(session, document.id) is True
    repo.update_document(
        session, document_id=document.id, changes={"review_reasons": []}, actor="test"
    )
    session.commit()
    assert stored_flag(session, document.id) is False


def test_a_refused_update_leaves_the_flag_as_it_was(
    session: Session, people: dict[str, User]
) -> None:
    document = add_document(session, n=1, customer=None, reasons=["expired"], minutes_ago=1)
    with pytest.raises(repo.ValidationError):
        repo.update_document(
            session,
            document_id=document.id,
            changes={"review_reasons": [], "status": "no_such_status"},
            actor="test",
        )
    session.rollback()
    assert stored_flag(session, document.id) is True


# --- order, pages, totals and counts ----------------------------------------------------------


def test_queue_order_is_anomalies_first_then_oldest_across_pages(
    session: Session, people: dict[str, User], corpus: list[Document]
) -> None:
    expected = [d.id for d in expected_queue(session)]
    assert len(expected) > 20  # the corpus really has a queue to page through
    whole = review.review_queue(session, user=people["r1"], limit=1000)
    assert [i.document_id for i in whole.items] == expected
    assert whole.total == len(expected)
    flags = [i.is_anomaly for i in whole.items]
    assert flags == sorted(flags, reverse=True) and True in flags and False in flags
    paged = []
    for offset in range(0, len(expected) + 7, 7):
        page = review.review_queue(session, user=people["r1"], limit=7, offset=offset)
        assert page.total == len(expected)
        paged += [i.document_id for i in page.items]
    assert paged == expected


def brute_counts(documents: list[Document]) -> dict[str, int]:
    counts = Counter(r for d in documents for r in set(d.review_reasons))
    return {code: n for code, n in counts.items() if code in TAX.review_reasons}


@pytest.mark.parametrize("username", ["reviewer1", "sales1"])
def test_totals_and_counts_equal_brute_force_under_every_filter(
    session: Session, people: dict[str, User], corpus: list[Document], username: str
) -> None:
    user = repo.get_user(session, username=username)
    assert user is not None
    visible = {
        d.id
        for d in corpus
        if user.role != "sales"
        or (customer_of(session, d) or Customer(owner_id=None)).owner_id == user.id
        or (d.customer_id is None and d.submitted_by == user.username)
    }
    queue = expected_queue(session, visible=visible)
    cases: list[tuple[dict[str, str], list[Document]]] = [({}, queue)]
    for code in [*REASONS, "second_check"]:
        cases.append(({"reason": code}, [d for d in queue if code in d.review_reasons]))
    for document_type in TYPES:
        cases.append(
            (
                {"document_type": document_type},
                [d for d in queue if d.document_type == document_type],
            )
        )
    for customer_type in ("enterprise", "individual"):
        matching = [
            d
            for d in queue
            if (c := customer_of(session, d)) is not None and c.customer_type == customer_type
        ]
        cases.append(({"customer_type": customer_type}, matching))
    owner_id = people["s2"].id
    by_owner = [d for d in queue if (c := customer_of(session, d)) and c.owner_id == owner_id]
    cases.append(({"owner": "sales2"}, by_owner))
    for filters, matching in cases:
        page = review.review_queue(session, user=user, limit=1000, **filters)
        assert [i.document_id for i in page.items] == [d.id for d in matching], filters
        assert page.total == len(matching), filters
        # Counts ignore the reason filter but honour all the others.
        unfiltered = {k: v for k, v in filters.items() if k != "reason"}
        base = review.review_queue(session, user=user, limit=1000, **unfiltered)
        base_docs = [d for d in queue if d.id in {i.document_id for i in base.items}]
        assert page.counts_by_reason == brute_counts(base_docs), filters
    assert sum(brute_counts(queue).values()) > 0


def test_a_reason_with_like_wildcards_matches_nothing_extra(
    session: Session, people: dict[str, User], corpus: list[Document]
) -> None:
    for reason in ("%", "_", "expi%"):
        page = review.review_queue(session, user=people["r1"], reason=reason)
        assert (page.total, page.items) == (0, []), reason


def test_next_in_queue_skips_excluded_and_live_claims_of_others(
    session: Session, people: dict[str, User], corpus: list[Document]
) -> None:
    expected = expected_queue(session)
    now = utcnow()
    first, second, third = expected[0].id, expected[1].id, expected[2].id
    claims = {
        first: ("reviewer2", now + timedelta(minutes=5)),  # live, someone else
        second: ("reviewer2", now - timedelta(minutes=5)),  # expired
    }
    for document_id, (by, until) in claims.items():
        repo.update_document(
            session,
            document_id=document_id,
            changes={"claimed_by": by, "claimed_at": now, "claim_expires_at": until},
            actor="test",
        )
    session.commit()
    r1 = people["r1"]
    assert review.next_in_queue(session, user=r1, now=now) == second
    assert review.next_in_queue(session, user=r1, now=now, exclude=[second]) == third
    reviewer2 = add_user(session, "reviewer2", "reviewer")
    assert review.next_in_queue(session, user=reviewer2, now=now) == first
    later = now + timedelta(minutes=10)
    assert review.next_in_queue(session, user=r1, now=later) == first
    anomalies = [d.id for d in expected if has_anomaly(d.review_reasons)]
    assert review.next_in_queue(session, user=r1, now=later, exclude=anomalies) == next(
        d.id for d in expected if not has_anomaly(d.review_reasons)
    )
    everything = [d.id for d in expected]
    assert review.next_in_queue(session, user=r1, now=later, exclude=everything) is None


# --- the migration --------------------------------------------------------------------------


def _insert_at_0003(engine: Engine, reasons: list[list[str]]) -> None:
    document = sa.table(
        "document",
        *(
            sa.column(name)
            for name in (
                "document_type",
                "status",
                "submitted_date",
                "original_filename",
                "original_sha256",
                "original_size",
                "fields",
                "created_at",
                "updated_at",
            )
        ),
        sa.column("review_reasons", sa.JSON),
    )
    now = utcnow()
    rows = [
        {
            "document_type": "business_license",
            "status": "pending_review",
            "submitted_date": date(2024, 5, 6),
            "original_filename": f"旧资料{n}.pdf",
            "original_sha256": hashlib.sha256(str(n).encode()).hexdigest(),
            "original_size": 1,
            "fields": "{}",
            "review_reasons": r,
            "created_at": now,
            "updated_at": now,
        }
        for n, r in enumerate(reasons)
    ]
    with engine.begin() as connection:
        connection.execute(document.insert(), rows)


def test_migration_0004_backfills_is_anomaly_and_creates_the_queue_index(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade_to_head(engine)
        downgrade_to(engine, revision="0003")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("document")}
        assert "is_anomaly" not in columns
        reasons = [[], ["second_check"], ["expired"], ["second_check", "unlinked"]]
        _insert_at_0003(engine, reasons)
        upgrade_to_head(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT is_anomaly FROM document ORDER BY id")
            ).scalars()
            assert [bool(v) for v in rows] == [False, False, True, True]
        indexes = {ix["name"]: ix for ix in sa.inspect(engine).get_indexes("document")}
        assert indexes["ix_document_queue"]["column_names"][1:] == ["created_at", "id"]
    finally:
        engine.dispose()
