"""The review service on SQLite and PostgreSQL: transitions, claims, permissions, the queue and
object moves on both storage backends (local folder and the S3-protocol server)."""

from __future__ import annotations

import hashlib
import io
from datetime import date, timedelta
from typing import Any

import img2pdf
import pytest
from PIL import Image
from sqlmodel import Session, select

from archive import review
from archive.errors import StorageError
from archive.naming import archive_key, original_key
from archive.permissions import PermissionDeniedError, can_view_document
from archive.review import ClaimConflictError, InvalidTransitionError
from archive.storage import ObjectStore
from archive.users import disable_user
from config.taxonomy import Taxonomy, load_taxonomy
from models import repo
from models.audit import AuditEvent
from models.customer import Customer
from models.db import utcnow
from models.document import Document
from models.repo import NotFoundError
from models.user import User
from tests.fixtures.db import make_uscc
from tests.fixtures.s3 import FailingStore

TAX = load_taxonomy()


# --- builders ---------------------------------------------------------------------------------


def pdf_bytes(seed: int) -> bytes:
    """A real one-page PDF whose bytes depend on ``seed``."""
    image = Image.new("RGB", (40, 30), color=(seed % 256, (seed * 7) % 256, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return img2pdf.convert(buffer.getvalue())


def add_user(session: Session, username: str, role: str) -> User:
    user = repo.ensure_user(session, username=username, role=role, actor="test")
    session.commit()
    return user


def add_customer(session: Session, n: int, *, name: str, owner: User | None = None) -> Customer:
    customer = repo.create_customer(
        session,
        actor="test",
        data={
            "name": name,
            "customer_type": "enterprise",
            "uscc": make_uscc(n),
            "legal_representative": "张三",
            "established_date": "2015-03-12",
            "address": "北京市海淀区某某路1号",
            "owner_id": owner.id if owner else None,
        },
    )
    session.commit()
    return customer


def add_document(
    session: Session,
    store: ObjectStore | None,
    *,
    customer: Customer | None,
    seed: int,
    document_type: str = "business_license",
    status: str = "pending_review",
    reasons: list[str] | None = None,
    submitted: date = date(2024, 5, 6),
    supersedes_id: int | None = None,
    created_offset_minutes: int = 0,
    text: str = "",
    submitted_by: str = "system",
) -> Document:
    """A document row whose PDF and original are really stored (when ``store`` is given)."""
    data = pdf_bytes(seed)
    digest = hashlib.sha256(data).hexdigest()
    names: dict[str, Any] = {
        "templates": TAX.templates,
        "customer_type_label": TAX.customer_type(customer.customer_type).label
        if customer
        else None,
        "customer_name": customer.name if customer else None,
        "document_type_label": TAX.document_type(document_type).label,
        "submitted": submitted,
    }
    pdf_key = archive_key(**names)
    orig_key = original_key(**names, original_ext=".pdf")
    if seed > 0:  # distinct keys per seed, as first_free_key would give
        pdf_key = pdf_key.replace(".pdf", f"-{seed + 1}.pdf")
        orig_key = orig_key.replace(".pdf", f"-{seed + 1}.pdf")
    if store is not None:
        store.put(pdf_key, io.BytesIO(data), content_type="application/pdf", sha256=digest)
        store.put(orig_key, io.BytesIO(data), content_type="application/pdf", sha256=digest)
    document = repo.create_document(
        session,
        actor="test",
        data={
            "customer_id": customer.id if customer else None,
            "document_type": document_type,
            "status": status,
            "submitted_date": submitted,
            "original_filename": f"扫描件{seed}.pdf",
            "original_key": orig_key,
            "original_sha256": digest,
            "original_size": len(data),
            "pdf_key": pdf_key,
            "pdf_sha256": digest,
            "pdf_size": len(data),
            "page_count": 1,
            "ocr_text": text or f"营业执照 {customer.name if customer else ''}",
            "fields": {"name": {"value": customer.name if customer else None, "page": 1}},
            "review_reasons": reasons if reasons is not None else ["second_check"],
            "supersedes_id": supersedes_id,
            "submitted_by": submitted_by,
        },
    )
    if created_offset_minutes:
        document.created_at = utcnow() + timedelta(minutes=created_offset_minutes)
        session.add(document)
    session.commit()
    return document


def audit_actions(session: Session, document_id: int) -> list[str]:
    events = repo.list_audit_events(session, entity_type="document", entity_id=document_id)
    return [e.action for e in events]


def status_of(session: Session, document_id: int) -> str:
    session.expire_all()
    doc = session.get(Document, document_id)
    assert doc is not None
    return doc.status


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    return {
        "r1": add_user(session, "reviewer1", "reviewer"),
        "r2": add_user(session, "reviewer2", "reviewer"),
        "admin": add_user(session, "boss", "admin"),
        "s1": add_user(session, "sales1", "sales"),
        "s2": add_user(session, "sales2", "sales"),
    }


@pytest.fixture
def acme(session: Session, people: dict[str, User]) -> Customer:
    return add_customer(session, 1, name="北京某某科技有限公司", owner=people["s1"])


@pytest.fixture
def other(session: Session, people: dict[str, User]) -> Customer:
    return add_customer(session, 2, name="上海另一家贸易有限公司", owner=people["s2"])


@pytest.fixture
def taxonomy() -> Taxonomy:
    return TAX


# --- the transition table ---------------------------------------------------------------------

ALL_STATUSES = ("pending_review", "archived", "updating", "rejected", "superseded")


@pytest.mark.parametrize("action", sorted(review.TRANSITIONS))
@pytest.mark.parametrize("status", ALL_STATUSES)
def test_next_status_follows_the_table(action: str, status: str) -> None:
    expected = review.TRANSITIONS[action].get(status)
    if expected is None:
        with pytest.raises(InvalidTransitionError) as info:
            review.next_status(action, status)
        assert info.value.code == "invalid_transition"
    else:
        assert review.next_status(action, status) == expected
    assert (action in review.allowed_actions(status)) == (expected is not None)


# --- valid transitions ------------------------------------------------------------------------


def test_approve_pending_archives_and_audits(
    session: Session, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, None, customer=acme, seed=1)
    result = review.approve(
        session,
        None,
        document_id=doc.id,
        user=people["r1"],
        taxonomy=TAX,  # type: ignore[arg-type]
    )
    assert result.status == "archived" and result.reviewed_by == "reviewer1"
    assert status_of(session, doc.id) == "archived"
    event = repo.list_audit_events(session, entity_type="document", entity_id=doc.id)[-1]
    assert event.action == "document.approve" and event.actor == "reviewer1"
    assert event.before["status"] == "pending_review" and event.after["status"] == "archived"


def test_approve_updating_supersedes_the_previous_version_only_on_approval(
    session: Session, people: dict[str, User], acme: Customer
) -> None:
    old = add_document(session, None, customer=acme, seed=1, status="archived")
    new = add_document(
        session,
        None,
        customer=acme,
        seed=2,
        status="updating",
        supersedes_id=old.id,
        reasons=["new_version", "second_check"],
    )
    assert status_of(session, old.id) == "archived"  # not before approval
    review.approve(session, None, document_id=new.id, user=people["r1"], taxonomy=TAX)  # type: ignore[arg-type]
    assert status_of(session, new.id) == "archived"
    assert status_of(session, old.id) == "superseded"
    assert "document.supersede" in audit_actions(session, old.id)


def test_approving_the_newest_version_supersedes_the_whole_chain(
    session: Session, people: dict[str, User], acme: Customer
) -> None:
    """A archived <- B updating <- C updating: approving C leaves only C archived."""
    a = add_document(session, None, customer=acme, seed=1, status="archived")
    b = add_document(session, None, customer=acme, seed=2, status="updating", supersedes_id=a.id)
    c = add_document(session, None, customer=acme, seed=3, status="updating", supersedes_id=b.id)
    review.approve(session, None, document_id=c.id, user=people["r1"], taxonomy=TAX)  # type: ignore[arg-type]
    assert [status_of(session, d.id) for d in (a, b, c)] == ["superseded", "superseded", "archived"]


def test_rejecting_a_new_version_keeps_the_old_one(
    session: Session, people: dict[str, User], acme: Customer
) -> None:
    old = add_document(session, None, customer=acme, seed=1, status="archived")
    new = add_document(
        session, None, customer=acme, seed=2, status="updating", supersedes_id=old.id
    )
    review.reject(session, document_id=new.id, user=people["r1"], reason="图片模糊")
    assert status_of(session, new.id) == "rejected"
    assert status_of(session, old.id) == "archived"
    event = repo.list_audit_events(session, entity_type="document", entity_id=new.id)[-1]
    assert event.action == "document.reject" and event.detail == "图片模糊"


def test_reject_pending_needs_a_reason(
    session: Session, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, None, customer=acme, seed=1)
    with pytest.raises(repo.ValidationError):
        review.reject(session, document_id=doc.id, user=people["r1"], reason="  ")
    review.reject(session, document_id=doc.id, user=people["r1"], reason="非本人证件")
    session.expire_all()
    stored = session.get(Document, doc.id)
    assert stored.status == "rejected" and stored.fields["_rejection"]["reason"] == "非本人证件"


# --- refused transitions ----------------------------------------------------------------------

REFUSED = [
    (action, status)
    for action in ("approve", "reject", "correct", "relink", "claim")
    for status in ("archived", "rejected", "superseded")
]


@pytest.mark.parametrize(("action", "status"), REFUSED)
def test_invalid_transitions_are_refused_and_change_nothing(
    session: Session,
    people: dict[str, User],
    acme: Customer,
    other: Customer,
    action: str,
    status: str,
) -> None:
    doc = add_document(session, None, customer=acme, seed=1, status=status)
    before = audit_actions(session, doc.id)
    user = people["r1"]
    calls = {
        "approve": lambda: review.approve(
            session, None, document_id=doc.id, user=user, taxonomy=TAX
        ),
        "reject": lambda: review.reject(session, document_id=doc.id, user=user, reason="x"),
        "correct": lambda: review.correct(
            session, None, document_id=doc.id, user=user, taxonomy=TAX, fields={"name": "新"}
        ),
        "relink": lambda: review.relink(
            session, None, document_id=doc.id, customer_code=other.code, user=user, taxonomy=TAX
        ),
        "claim": lambda: review.claim(session, document_id=doc.id, user=user),
    }
    with pytest.raises(InvalidTransitionError) as info:
        calls[action]()  # type: ignore[no-untyped-call]
    assert info.value.code == "invalid_transition"
    assert status_of(session, doc.id) == status
    assert audit_actions(session, doc.id) == before


def test_an_unlinked_document_cannot_be_archived(session: Session, people: dict[str, User]) -> None:
    doc = add_document(session, None, customer=None, seed=1, reasons=["unlinked"])
    with pytest.raises(InvalidTransitionError):
        review.approve(session, None, document_id=doc.id, user=people["r1"], taxonomy=TAX)  # type: ignore[arg-type]
    assert status_of(session, doc.id) == "pending_review"


# --- permissions ------------------------------------------------------------------------------


def test_sales_cannot_approve_or_claim(
    session: Session, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, None, customer=acme, seed=1)
    with pytest.raises(PermissionDeniedError) as info:
        review.approve(session, None, document_id=doc.id, user=people["s1"], taxonomy=TAX)  # type: ignore[arg-type]
    assert info.value.code == "permission_denied"
    with pytest.raises(PermissionDeniedError):
        review.claim(session, document_id=doc.id, user=people["s1"])
    assert status_of(session, doc.id) == "pending_review"


def test_sales_see_only_their_own_customers_documents(
    session: Session, people: dict[str, User], acme: Customer, other: Customer
) -> None:
    mine = add_document(session, None, customer=acme, seed=1)
    theirs = add_document(session, None, customer=other, seed=2)
    my_upload = add_document(session, None, customer=None, seed=3, submitted_by="sales1")
    foreign_upload = add_document(session, None, customer=None, seed=4, submitted_by="sales2")
    page = review.review_queue(session, user=people["s1"])
    assert {i.document_id for i in page.items} == {mine.id, my_upload.id}
    assert page.total == 2
    assert can_view_document(people["s1"], mine, acme)
    assert not can_view_document(people["s1"], theirs, other)
    assert not can_view_document(people["s1"], foreign_upload, None)
    everything = review.review_queue(session, user=people["r1"])
    assert everything.total == 4


def test_a_disabled_reviewer_can_do_nothing(
    session: Session, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, None, customer=acme, seed=1)
    r1 = disable_user(session, username="reviewer1", actor="boss")
    session.commit()
    with pytest.raises(PermissionDeniedError):
        review.claim(session, document_id=doc.id, user=r1)
    assert review.review_queue(session, user=r1).total == 0


# --- claims -----------------------------------------------------------------------------------


def test_claims_keep_two_reviewers_apart_until_they_expire(
    session: Session, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, None, customer=acme, seed=1)
    r1, r2 = people["r1"], people["r2"]
    t0 = utcnow()
    claimed = review.claim(session, document_id=doc.id, user=r1, ttl_minutes=15, now=t0)
    assert claimed.claimed_by == "reviewer1"
    with pytest.raises(ClaimConflictError) as info:
        review.claim(session, document_id=doc.id, user=r2, now=t0 + timedelta(minutes=5))
    assert info.value.code == "conflict" and "reviewer1" in info.value.message
    with pytest.raises(ClaimConflictError):
        review.approve(
            session,
            None,
            document_id=doc.id,
            user=r2,
            taxonomy=TAX,  # type: ignore[arg-type]
            now=t0 + timedelta(minutes=5),
        )
    with pytest.raises(ClaimConflictError):
        review.release(session, document_id=doc.id, user=r2, now=t0 + timedelta(minutes=5))
    assert review.next_in_queue(session, user=r2, now=t0 + timedelta(minutes=5)) is None
    # Expired: reviewer2 takes it over; now reviewer1 is the one refused.
    later = t0 + timedelta(minutes=16)
    assert review.claim(session, document_id=doc.id, user=r2, now=later).claimed_by == "reviewer2"
    with pytest.raises(ClaimConflictError):
        review.reject(session, document_id=doc.id, user=r1, reason="x", now=later)
    review.release(session, document_id=doc.id, user=r2, now=later)
    session.expire_all()
    assert session.get(Document, doc.id).claimed_by is None
    assert audit_actions(session, doc.id)[-3:] == [
        "document.claim",
        "document.claim",
        "document.release",
    ]


def test_the_claim_holder_decides_and_the_claim_is_cleared(
    session: Session, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, None, customer=acme, seed=1)
    review.claim(session, document_id=doc.id, user=people["r1"])
    done = review.approve(session, None, document_id=doc.id, user=people["r1"], taxonomy=TAX)  # type: ignore[arg-type]
    assert done.status == "archived" and done.claimed_by is None and done.claim_expires_at is None


def test_claim_is_visible_from_another_session(
    engine: Any, session: Session, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, None, customer=acme, seed=1)
    review.claim(session, document_id=doc.id, user=people["r1"])
    with Session(engine) as other_session:
        r2 = other_session.exec(select(User).where(User.username == "reviewer2")).one()
        with pytest.raises(ClaimConflictError):
            review.claim(other_session, document_id=doc.id, user=r2)


# --- the queue --------------------------------------------------------------------------------


def test_queue_puts_anomalies_first_then_oldest_with_filters_and_counts(
    session: Session, people: dict[str, User], acme: Customer, other: Customer
) -> None:
    clean_old = add_document(session, None, customer=acme, seed=1, created_offset_minutes=-30)
    anomaly_new = add_document(
        session,
        None,
        customer=acme,
        seed=2,
        reasons=["expired", "second_check"],
        created_offset_minutes=-5,
    )
    anomaly_old = add_document(
        session,
        None,
        customer=other,
        seed=3,
        document_type="bank_permit",
        reasons=["low_ocr_confidence"],
        created_offset_minutes=-20,
    )
    unlinked = add_document(
        session, None, customer=None, seed=4, reasons=["unlinked"], created_offset_minutes=-1
    )
    add_document(session, None, customer=acme, seed=5, status="archived")  # not in the queue
    page = review.review_queue(session, user=people["r1"])
    order = [i.document_id for i in page.items]
    assert order == [anomaly_old.id, anomaly_new.id, unlinked.id, clean_old.id]
    assert page.total == 4
    assert [i.is_anomaly for i in page.items] == [True, True, True, False]
    assert page.counts_by_reason == {
        "expired": 1,
        "second_check": 2,
        "low_ocr_confidence": 1,
        "unlinked": 1,
    }
    by_reason = review.review_queue(session, user=people["r1"], reason="expired")
    assert [i.document_id for i in by_reason.items] == [anomaly_new.id]
    assert by_reason.counts_by_reason["unlinked"] == 1  # counts ignore the reason filter
    by_type = review.review_queue(session, user=people["r1"], document_type="bank_permit")
    assert [i.document_id for i in by_type.items] == [anomaly_old.id]
    by_ctype = review.review_queue(session, user=people["r1"], customer_type="enterprise")
    assert by_ctype.total == 3
    by_owner = review.review_queue(session, user=people["r1"], owner="sales2")
    assert [i.document_id for i in by_owner.items] == [anomaly_old.id]
    second = review.review_queue(session, user=people["r1"], limit=2, offset=2)
    assert [i.document_id for i in second.items] == [unlinked.id, clean_old.id]
    assert second.items[0].customer_name is None
    assert (
        review.next_in_queue(session, user=people["r1"], exclude=[anomaly_old.id]) == anomaly_new.id
    )


# --- corrections and object moves (both databases x both stores) ------------------------------


def keys_of(session: Session, document_id: int) -> tuple[str, str]:
    session.expire_all()
    doc = session.get(Document, document_id)
    assert doc is not None and doc.pdf_key and doc.original_key
    return doc.pdf_key, doc.original_key


def test_correcting_type_and_date_moves_objects_safely(
    session: Session, store: ObjectStore, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, store, customer=acme, seed=0, document_type="other")
    old_pdf, old_orig = keys_of(session, doc.id)
    review.correct(
        session,
        store,
        document_id=doc.id,
        user=people["r1"],
        taxonomy=TAX,
        document_type="营业执照",
        submitted_date="2024-08-01",
        fields={"uscc": make_uscc(1)},
    )
    new_pdf, new_orig = keys_of(session, doc.id)
    folder = "archive/企业客户/2024/Q3/北京某某科技有限公司/"
    assert new_pdf == folder + "北京某某科技有限公司-营业执照-2024-08-01.pdf"
    assert new_orig.startswith("originals/企业客户/2024/Q3/") and new_orig.endswith(".pdf")
    assert not store.exists(old_pdf) and not store.exists(old_orig)
    assert store.sha256_of(new_pdf) == doc.pdf_sha256
    assert store.sha256_of(new_orig) == doc.original_sha256
    stored = session.get(Document, doc.id)
    assert stored.status == "pending_review" and stored.document_type == "business_license"
    assert stored.submitted_date == date(2024, 8, 1)
    assert stored.fields["uscc"]["value"] == make_uscc(1)
    assert stored.fields["uscc"]["corrected_by"] == "reviewer1"
    event = repo.list_audit_events(session, entity_type="document", entity_id=doc.id)[-1]
    assert event.action == "document.correct"
    assert event.before["pdf_key"] == old_pdf and event.after["pdf_key"] == new_pdf
    assert event.before["document_type"] == "other"


def test_relink_moves_objects_to_the_new_customer(
    session: Session, store: ObjectStore, people: dict[str, User], other: Customer
) -> None:
    doc = add_document(session, store, customer=None, seed=0, reasons=["unlinked", "second_check"])
    old_pdf, _ = keys_of(session, doc.id)
    assert "未关联客户" in old_pdf
    review.relink(
        session,
        store,
        document_id=doc.id,
        customer_code=other.code,
        user=people["r1"],
        taxonomy=TAX,
    )
    new_pdf, _ = keys_of(session, doc.id)
    assert "/上海另一家贸易有限公司/" in new_pdf and store.exists(new_pdf)
    assert not store.exists(old_pdf)
    stored = session.get(Document, doc.id)
    assert stored.customer_id == other.id and stored.review_reasons == ["second_check"]
    approved = review.approve(session, store, document_id=doc.id, user=people["r1"], taxonomy=TAX)
    assert approved.status == "archived"


def test_approve_with_corrections(
    session: Session, store: ObjectStore, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, store, customer=acme, seed=0, reasons=["missing_field"])
    done = review.approve(
        session,
        store,
        document_id=doc.id,
        user=people["r2"],
        taxonomy=TAX,
        corrections={
            "fields": {"legal_representative": "李四"},
            "submitted_date": date(2024, 1, 2),
        },
    )
    assert done.status == "archived" and done.fields["legal_representative"]["value"] == "李四"
    assert done.pdf_key.endswith("-2024-01-02.pdf") and "/2024/Q1/" in done.pdf_key
    assert store.exists(done.pdf_key)
    assert audit_actions(session, doc.id)[-2:] == ["document.correct", "document.approve"]


class CopyFailsStore(FailingStore):
    """A real store whose copy fails (the move must leave everything as it was)."""

    def copy(self, src, dst):  # type: ignore[no-untyped-def, override]
        raise StorageError("injected copy failure")


class DeleteFailsStore(FailingStore):
    """A real store whose delete fails, as if the process died right after the commit."""

    def delete(self, key):  # type: ignore[no-untyped-def, override]
        raise StorageError("injected delete failure")


def test_a_failed_copy_changes_nothing(
    session: Session, store: ObjectStore, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, store, customer=acme, seed=0)
    old_pdf, old_orig = keys_of(session, doc.id)
    before = audit_actions(session, doc.id)
    broken = CopyFailsStore(store, fail_on_put=0, error=StorageError("unused"))
    with pytest.raises(StorageError):
        review.correct(
            session,
            broken,
            document_id=doc.id,
            user=people["r1"],
            taxonomy=TAX,
            document_type="contract",
        )
    assert keys_of(session, doc.id) == (old_pdf, old_orig)
    assert store.exists(old_pdf) and store.exists(old_orig)
    assert [o.key for o in store.iter_objects("")] == sorted([old_pdf, old_orig])
    assert audit_actions(session, doc.id) == before
    assert session.get(Document, doc.id).document_type == "business_license"


def test_a_crash_after_commit_leaves_identical_bytes_under_both_keys(
    session: Session, store: ObjectStore, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, store, customer=acme, seed=0)
    old_pdf, _ = keys_of(session, doc.id)
    broken = DeleteFailsStore(store, fail_on_put=0, error=StorageError("unused"))
    review.correct(
        session,
        broken,
        document_id=doc.id,
        user=people["r1"],
        taxonomy=TAX,
        document_type="contract",
    )
    new_pdf, _ = keys_of(session, doc.id)
    assert new_pdf != old_pdf and "合同" in new_pdf
    # The database points at the verified copy; the old key is an orphan with the same sha256.
    assert store.sha256_of(new_pdf) == store.sha256_of(old_pdf) == doc.pdf_sha256
    assert repo.find_documents_by_sha256(session, sha256=doc.pdf_sha256)[0].pdf_key == new_pdf


def test_refile_after_a_customer_rename(
    session: Session, store: ObjectStore, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, store, customer=acme, seed=0, status="archived")
    repo.update_customer(
        session, code=acme.code, changes={"name": "北京新名字科技有限公司"}, actor="test"
    )
    session.commit()
    moves = review.refile(session, store, document_id=doc.id, taxonomy=TAX, actor="test")
    assert {m.kind for m in moves} == {"pdf", "original"}
    new_pdf, _ = keys_of(session, doc.id)
    assert "北京新名字科技有限公司" in new_pdf and store.exists(new_pdf)
    assert review.refile(session, store, document_id=doc.id, taxonomy=TAX, actor="test") == []


def test_unknown_document_is_not_found(session: Session, people: dict[str, User]) -> None:
    with pytest.raises(NotFoundError):
        review.claim(session, document_id=999_999, user=people["r1"])


def test_audit_rows_are_never_updated_by_review(
    session: Session, people: dict[str, User], acme: Customer
) -> None:
    doc = add_document(session, None, customer=acme, seed=1)
    review.claim(session, document_id=doc.id, user=people["r1"])
    review.approve(session, None, document_id=doc.id, user=people["r1"], taxonomy=TAX)  # type: ignore[arg-type]
    events = session.exec(select(AuditEvent).where(AuditEvent.entity_id == str(doc.id))).all()
    assert [e.action for e in events] == ["document.create", "document.claim", "document.approve"]
