"""Object placement has one home: filing, a review correction and integrity repair put a
document's objects under the same key, and the integrity check calls that key not drifted, for
any customer name and type, document type, date, set of occupied keys and store key limit
(SQLite and PostgreSQL; a local store).

Occupied keys are the expected key or one of its collision-suffixed variants, held by another
document's row, by an object with other bytes, or (PDF only) by an object holding exactly the
mover's bytes, which a crashed run may leave behind and which is reused, not skipped. The test
also checks the result against the rule itself: the first slot that is neither used by a row nor
holding other bytes.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, delete

from archive import review
from archive.filing import DocumentPart, FilingRequest, file_document
from archive.integrity import Finding, check_key_drift, repair
from archive.integrity.rows import iter_document_pages
from archive.naming import with_collision_suffix
from archive.placement import ObjectNames, object_names
from archive.storage import LocalObjectStore, ObjectStore
from config.taxonomy import load_taxonomy
from models import repo
from models.customer import Customer
from models.document import Document
from models.user import User
from models.validation import ValidationError
from tests.fixtures.db import make_id_number, make_uscc

TAX = load_taxonomy()
DOCUMENT_TYPES = [t.code for t in TAX.document_types]
CUSTOMER_TYPES = [t.code for t in TAX.customer_types]
SLOTS = range(1, 7)
YEAR = timedelta(days=400)  # always another year's folder
_serial = itertools.count(1)

names = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=200
    ).filter(lambda s: s.strip()),
    st.sampled_from(
        ["北京某某科技有限公司", "../..", "CON", "e\u0301 .", "长" * 200, "a/b\\c", "A.B 公司-2"]
    ),
)
pdf_slots = st.dictionaries(st.sampled_from(SLOTS), st.sampled_from(["row", "other", "same"]))
original_slots = st.dictionaries(st.sampled_from(SLOTS), st.sampled_from(["row", "other"]))


def drift_of(engine: Engine, document: Document, max_key_bytes: int) -> list[Finding]:
    """What the integrity check's key rule says of the document's row."""
    row = next(r for page in iter_document_pages(engine) for r in page if r.id == document.id)
    return check_key_drift(row, taxonomy=TAX, max_key_bytes=max_key_bytes)


def identifying_fields(customer: Customer) -> dict[str, object]:
    """Fields that link a new file to ``customer``: its code, and as a contract party its USCC
    or (an individual) its name."""

    def value(text: str | None) -> dict[str, object]:
        return {"value": text, "confidence": 0.99, "reasons": []}

    if customer.customer_type == "enterprise":
        return {"uscc": value(customer.uscc), "party_a_uscc": value(customer.uscc)}
    return {"id_number": value(customer.id_number), "party_a": value(customer.name)}


def slot_key(base: str, n: int) -> str:
    return base if n == 1 else with_collision_suffix(base, n)


def first_free_slot(base: str, occupied: Mapping[int, str]) -> str:
    """The rule, written out: rows and other bytes block a slot; the mover's own bytes do not."""
    n = next(n for n in itertools.count(1) if occupied.get(n) not in ("row", "other"))
    return slot_key(base, n)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Scene:
    """One example: a customer, a document B waiting for review, occupied keys, and a file A."""

    def __init__(self, session: Session, store: ObjectStore, folder: Path) -> None:
        self.session = session
        self.store = store
        self.folder = folder
        n = next(_serial)
        self.n = n
        self.pdf = f"%PDF-1.4 placement {n}".encode()  # every mover's PDF: the same bytes
        self.originals = {tag: f"original {tag} {n}".encode() for tag in "ABC"}

    def customer(self, name: str, customer_type: str) -> Customer:
        data: dict[str, object] = {"name": name, "customer_type": customer_type}
        if customer_type == "enterprise":
            data.update(
                uscc=make_uscc(self.n),
                legal_representative="张三",
                established_date="2015-03-12",
                address="北京市海淀区某某路1号",
            )
        else:
            data["id_number"] = make_id_number(self.n % 1000)
        customer = repo.create_customer(self.session, actor="test", data=data)
        self.session.commit()
        return customer

    def document(
        self, customer: Customer, tag: str, *, document_type: str, submitted: date
    ) -> Document:
        """B or C: filed earlier under other keys, now pending review."""
        keys = object_names(
            TAX,
            customer=customer,
            document_type=document_type,
            submitted=submitted,
            original_filename="b.pdf",
            max_key_bytes=self.store.max_key_bytes,
        )
        self.put(keys.pdf, self.pdf)
        self.put(keys.original, self.originals[tag])
        return self.row(
            (keys.pdf, sha(self.pdf)),
            (keys.original, sha(self.originals[tag])),
            customer=customer,
            document_type=document_type,
            submitted=submitted,
        )

    def row(
        self,
        pdf: tuple[str, str],
        original: tuple[str, str],
        *,
        customer: Customer | None = None,
        document_type: str = "other",
        submitted: date = date(2020, 1, 1),
    ) -> Document:
        """A document row with its (key, sha256) pairs; B, or another document holding a key."""
        document = repo.create_document(
            self.session,
            actor="test",
            data={
                "customer_id": customer.id if customer else None,
                "document_type": document_type,
                "status": "pending_review",
                "submitted_date": submitted,
                "original_filename": "b.pdf",
                "original_key": original[0],
                "original_sha256": original[1],
                "original_size": 1,
                "pdf_key": pdf[0],
                "pdf_sha256": pdf[1],
                "pdf_size": 1,
                "page_count": 1,
                "review_reasons": ["second_check"],
            },
        )
        self.session.commit()
        return document

    def put(self, key: str, data: bytes) -> None:
        self.store.put(key, io.BytesIO(data), sha256=sha(data))

    def occupy(
        self,
        expected: ObjectNames,
        pdf: Mapping[int, str],
        original: Mapping[int, str],
        *,
        rows: bool = True,
    ) -> None:
        """Occupy slots of the expected keys: "row", "other" (bytes) or "same" (the PDF's)."""
        for kind, base, slots in (
            ("pdf", expected.pdf, pdf),
            ("original", expected.original, original),
        ):
            for n, how in sorted(slots.items()):
                if how == "row" and not rows:
                    continue
                key = slot_key(base, n)
                if how == "row":
                    other = f"occupied/{self.n}/{kind}-{n}.pdf"
                    pair = (key, other) if kind == "pdf" else (other, key)
                    self.row(*((k, sha(k.encode())) for k in pair))
                elif how == "other":
                    self.put(key, f"other bytes {key}".encode())
                else:
                    self.put(key, self.pdf)

    def file(self, customer: Customer, *, document_type: str, submitted: date) -> Document:
        """A: a new file of ``customer`` filed through ``file_document``."""
        pdf_path = self.folder / "a.pdf"
        pdf_path.write_bytes(self.pdf)
        original_path = self.folder / "a-original.pdf"
        original_path.write_bytes(self.originals["A"])
        part = DocumentPart(
            document_type=document_type,
            pdf_path=pdf_path,
            pdf_sha256=sha(self.pdf),
            pdf_size=len(self.pdf),
            page_count=1,
            text="",
            ocr_confidence=None,
            fields=identifying_fields(customer),
        )
        request = FilingRequest(
            original_path=original_path,
            original_filename="a.pdf",
            original_sha256=sha(self.originals["A"]),
            original_size=len(self.originals["A"]),
            submitted_date=submitted,
            parts=[part],
        )
        filed = file_document(session=self.session, store=self.store, taxonomy=TAX, request=request)
        document = self.session.get(Document, filed[0].document_id)
        self.session.commit()  # no transaction left open (SQLite: BEGIN IMMEDIATE locks)
        assert document is not None and document.customer_id == customer.id
        return document

    def drift(self, document: Document, *, document_type: str, submitted: date) -> None:
        """Change the document's type and date in the database only (its objects stay)."""
        repo.update_document(
            self.session,
            document_id=document.id or 0,
            changes={"document_type": document_type, "submitted_date": submitted},
            actor="test",
            taxonomy=TAX,
        )
        self.session.commit()

    def reloaded(self, document: Document) -> Document:
        self.session.expire_all()
        fresh = self.session.get(Document, document.id)
        assert fresh is not None
        self.session.commit()
        return fresh

    def forget(self, document: Document) -> None:
        """Remove a mover again (row and objects), so the next one meets the same keys."""
        for key in (document.pdf_key, document.original_key):
            self.store.delete(key)
        self.session.exec(delete(Document).where(Document.id == document.id))  # type: ignore[call-overload]
        self.session.commit()

    def clear(self) -> None:
        self.session.rollback()
        self.session.exec(delete(Document))  # type: ignore[call-overload]
        self.session.exec(delete(Customer))  # type: ignore[call-overload]
        self.session.commit()


@contextmanager
def scene(engine: Engine, *, max_key_bytes: int) -> Iterator[Scene]:
    """A fresh store (its key limit as a prefixed S3 bucket would have it); rows removed after."""
    with tempfile.TemporaryDirectory() as tmp, Session(engine, expire_on_commit=False) as s:
        store = LocalObjectStore(Path(tmp) / "objects")
        store.max_key_bytes = max_key_bytes
        store.ensure_ready()
        current = Scene(s, store, Path(tmp))
        try:
            yield current
        finally:
            current.clear()


@pytest.fixture
def reviewer(engine: Engine) -> User:
    with Session(engine, expire_on_commit=False) as s:
        user = repo.ensure_user(s, username="rita", role="reviewer", actor="test")
        s.commit()
        return user


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=names,
    customer_type=st.sampled_from(CUSTOMER_TYPES),
    document_type=st.sampled_from(DOCUMENT_TYPES),
    initial_type=st.sampled_from(DOCUMENT_TYPES),
    submitted=st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)),
    pdf_taken=pdf_slots,
    original_taken=original_slots,
    max_key_bytes=st.sampled_from([1024, 300]),
)
@example(
    name="北京某某科技有限公司",
    customer_type="enterprise",
    document_type="business_license",
    initial_type="business_license",
    submitted=date(2024, 5, 6),
    pdf_taken={1: "row", 2: "same", 3: "other"},
    original_taken={1: "other", 2: "row"},
    max_key_bytes=1024,
)
@example(
    name=" 王 小明\u200b ",
    customer_type="individual",
    document_type="contract",
    initial_type="id_card",
    submitted=date(2024, 2, 29),
    pdf_taken={1: "same", 2: "row"},
    original_taken={1: "row", 3: "other"},
    max_key_bytes=1024,
)
@example(
    name="长" * 200,
    customer_type="individual",
    document_type="customer_form",
    initial_type="contract",
    submitted=date(2030, 2, 28),
    pdf_taken={1: "other"},
    original_taken={},
    max_key_bytes=300,
)
def test_filing_correction_and_repair_place_objects_alike(
    engine: Engine,
    reviewer: User,
    name: str,
    customer_type: str,
    document_type: str,
    initial_type: str,
    submitted: date,
    pdf_taken: dict[int, str],
    original_taken: dict[int, str],
    max_key_bytes: int,
) -> None:
    with scene(engine, max_key_bytes=max_key_bytes) as sc:
        try:
            customer = sc.customer(name, customer_type)
        except ValidationError:
            assume(False)
        expected = object_names(
            TAX,
            customer=customer,
            document_type=document_type,
            submitted=submitted,
            original_filename="a.pdf",
            max_key_bytes=sc.store.max_key_bytes,
        )
        target = {"document_type": document_type, "submitted": submitted}
        # B and C were filed earlier (other years, so other keys) and wait for review.
        b = sc.document(customer, "B", document_type=initial_type, submitted=submitted - YEAR)
        c = sc.document(customer, "C", document_type=initial_type, submitted=submitted - 2 * YEAR)
        sc.occupy(expected, pdf_taken, original_taken)

        # 1. Filing a new file A.
        a = sc.file(customer, **target)
        filed = (a.pdf_key, a.original_key)
        assert filed == (
            first_free_slot(expected.pdf, pdf_taken),
            first_free_slot(expected.original, original_taken),
        )
        assert drift_of(engine, a, max_key_bytes) == []
        sc.forget(a)
        sc.occupy(expected, pdf_taken, original_taken, rows=False)  # objects A's removal took

        # 2. A reviewer corrects B's type and date: B moves where A went.
        corrected = review.correct(
            sc.session,
            sc.store,
            document_id=b.id or 0,
            user=reviewer,
            taxonomy=TAX,
            document_type=document_type,
            submitted_date=submitted,
        )
        assert (corrected.pdf_key, corrected.original_key) == filed
        assert drift_of(engine, corrected, max_key_bytes) == []
        sc.store.verify(corrected.pdf_key, expected_sha256=sha(sc.pdf))
        sc.store.verify(corrected.original_key, expected_sha256=sha(sc.originals["B"]))
        sc.forget(corrected)
        sc.occupy(expected, pdf_taken, original_taken, rows=False)

        # 3. C's data change without a move: the check calls it drifted, repair moves it there.
        sc.drift(c, **target)
        drifted = drift_of(engine, c, max_key_bytes)
        assert sorted(f.detail["role"] for f in drifted) == ["original", "pdf"]
        actions = repair(engine=engine, store=sc.store, findings=drifted, actor="test")
        assert [x.ok for x in actions] == [True, True], actions
        repaired = sc.reloaded(c)
        assert (repaired.pdf_key, repaired.original_key) == filed
        assert drift_of(engine, repaired, max_key_bytes) == []
        sc.store.verify(repaired.original_key, expected_sha256=sha(sc.originals["C"]))
