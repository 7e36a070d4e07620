"""Archive integrity checks against real stores (local folder and the S3-protocol server) and
real databases (SQLite and PostgreSQL where the database matters).

Every test builds a small clean archive (two customers with their full 资料清单, real PDFs with
a text layer) and injects one fault through the same seams production uses: the store's own
operations, the repository, or bytes changed behind the store's back (bit rot).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from archive.errors import InvalidKeyError
from archive.integrity import (
    CheckOptions,
    CheckReport,
    Findings,
    Mode,
    QuarantineItem,
    check_quarantine,
    matches_expected_key,
    record_run,
    repair,
    run_checks,
)
from archive.naming import archive_key, first_free_key, original_key
from archive.storage import LocalObjectStore, ObjectStore
from archive.storage.s3 import S3ObjectStore
from config.taxonomy import Taxonomy, load_taxonomy
from ingest.pdfout import pdf_from_objects
from models import repo
from models.audit import AuditEvent
from models.customer import Customer
from models.db import make_engine, session_scope, upgrade_to_head, utcnow
from models.document import Document
from models.runs import IntegrityFinding, ObjectVerification
from tests.fixtures.db import make_id_number, make_uscc

logging.getLogger("pypdf").setLevel(logging.ERROR)

SUBMITTED = date(2024, 5, 6)


# --- sample files -----------------------------------------------------------------------------


def make_pdf(pages: int = 1, text: str | None = "dossier page") -> bytes:
    """A small valid PDF; with ``text`` every page carries a text layer, without it none."""
    font_id = 3 + 2 * pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode()]
    for i in range(pages):
        content = (f"BT /F1 12 Tf 20 50 Td ({text} {i + 1}) Tj ET".encode() if text
                   else b"0 0 m 150 80 l S")
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Resources << /Font "
            f"<< /F1 {font_id} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return pdf_from_objects(objs)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- building an archive the way filing does --------------------------------------------------


@dataclass
class Archive:
    engine: Engine
    store: ObjectStore
    taxonomy: Taxonomy
    customers: dict[str, Customer] = field(default_factory=dict)
    docs: dict[str, Document] = field(default_factory=dict)
    counter: int = 0

    def add_doc(
        self,
        name: str,
        *,
        customer: str | None,
        document_type: str,
        pdf: bytes | None = None,
        status: str = "archived",
        fields: dict[str, Any] | None = None,
        page_count: int = 1,
        ocr_text: str | None = "dossier page",
        original: bytes | None = None,
    ) -> Document:
        """Store a PDF and an original at their computed keys, then record the document."""
        self.counter += 1
        pdf = pdf if pdf is not None else make_pdf(page_count, f"{name} {self.counter}")
        original = original if original is not None else f"scan {name} {self.counter}".encode()
        owner = self.customers.get(customer) if customer else None
        names = dict(
            templates=self.taxonomy.templates,
            customer_type_label=(
                self.taxonomy.customer_type(owner.customer_type).label if owner else None),
            customer_name=owner.name if owner else None,
            document_type_label=self.taxonomy.document_type(document_type).label,
            submitted=SUBMITTED,
        )
        pdf_key = first_free_key(archive_key(**names), taken=self.store.exists)
        orig_key = first_free_key(original_key(**names, original_ext=".jpg"),
                                  taken=self.store.exists)
        self.store.put(pdf_key, io.BytesIO(pdf), content_type="application/pdf", sha256=sha(pdf))
        self.store.put(orig_key, io.BytesIO(original), content_type="image/jpeg",
                       sha256=sha(original))
        with session_scope(self.engine) as session:
            doc = repo.create_document(session, actor="tester", data=dict(
                customer_id=owner.id if owner else None, document_type=document_type,
                status=status, submitted_date=SUBMITTED, original_filename="扫描件.jpg",
                original_key=orig_key, original_sha256=sha(original), original_size=len(original),
                pdf_key=pdf_key, pdf_sha256=sha(pdf), pdf_size=len(pdf), page_count=page_count,
                ocr_text=ocr_text, fields=fields or {},
            ))
        self.docs[name] = doc
        return doc

    def update(self, name: str, **changes: Any) -> None:
        with session_scope(self.engine) as session:
            self.docs[name] = repo.update_document(
                session, document_id=self.docs[name].id, changes=changes, actor="tester")


def build_clean_archive(engine: Engine, store: ObjectStore) -> Archive:
    """An enterprise and an individual customer, each with every required document."""
    arc = Archive(engine=engine, store=store, taxonomy=load_taxonomy())
    with session_scope(engine) as session:
        arc.customers["ent"] = repo.create_customer(session, actor="tester", data={
            "name": "北京测试科技有限公司", "customer_type": "enterprise", "uscc": make_uscc(7),
            "legal_representative": "张三", "established_date": "2015-03-12",
            "address": "北京市海淀区中关村大街1号"})
        arc.customers["ind"] = repo.create_customer(session, actor="tester", data={
            "name": "李四", "customer_type": "individual", "id_number": make_id_number(8)})
    far = {"value": "2099-12-31", "confidence": 0.99}
    arc.add_doc("license", customer="ent", document_type="business_license",
                fields={"term_end": far})
    arc.add_doc("permit", customer="ent", document_type="bank_permit")
    arc.add_doc("ent_id", customer="ent", document_type="id_card", fields={"valid_to": far})
    arc.add_doc("ent_form", customer="ent", document_type="customer_form", page_count=2)
    arc.add_doc("ind_id", customer="ind", document_type="id_card",
                fields={"valid_to": {"value": "长期", "confidence": 0.9}})
    arc.add_doc("ind_form", customer="ind", document_type="customer_form")
    return arc


def check(arc: Archive, mode: Mode | str = Mode.FULL, **kw: Any) -> CheckReport:
    options = CheckOptions(mode=Mode(mode), workers=4, page_size=4, **kw)
    return run_checks(engine=arc.engine, store=arc.store, taxonomy=arc.taxonomy, options=options)


def kinds(findings: Findings | CheckReport) -> list[tuple[str, str | None, int | None]]:
    items = findings.findings if isinstance(findings, CheckReport) else findings
    return sorted((f.kind, f.object_key, f.document_id) for f in items)


# --- tampering behind the store's back --------------------------------------------------------


def read_raw(store: ObjectStore, key: str) -> bytes:
    with store.open(key, verify=False) as fh:
        return fh.read()


def overwrite_behind_back(store: ObjectStore, key: str, data: bytes) -> None:
    """Change stored bytes without the store knowing (bit rot): the recorded digest stays."""
    if isinstance(store, LocalObjectStore):
        (store.root / key).write_bytes(data)
        return
    assert isinstance(store, S3ObjectStore)
    full = store.full_key(key)
    old = store.client.head_object(Bucket=store.bucket, Key=full)
    store.client.put_object(Bucket=store.bucket, Key=full, Body=data,
                            Metadata=old.get("Metadata", {}))


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'integrity.db'}")
    upgrade_to_head(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def arc(store: ObjectStore, sqlite_engine: Engine) -> Archive:
    """A clean archive on each store backend (SQLite)."""
    return build_clean_archive(sqlite_engine, store)


@pytest.fixture
def db_arc(engine: Engine, tmp_path: Path) -> Archive:
    """A clean archive on each database (local store)."""
    store = LocalObjectStore(tmp_path / "db-objects")
    store.ensure_ready()
    return build_clean_archive(engine, store)


# --- a clean archive ----------------------------------------------------------------------------


def test_clean_archive_has_no_findings_in_any_mode(arc: Archive) -> None:
    full = check(arc, Mode.FULL)
    assert kinds(full) == []
    assert full.stats["objects"] == 12 and full.stats["hashed_objects"] == 12
    assert full.stats["listed_objects"] == 12 and full.stats["customers"] == 2
    incremental = check(arc, Mode.INCREMENTAL)
    assert kinds(incremental) == []
    assert incremental.stats["hashed_objects"] == 0  # all verified by the full run just now
    metadata = check(arc, Mode.METADATA)
    assert kinds(metadata) == [] and metadata.stats["hashed_bytes"] == 0
    assert full.findings.exit_code() == 0


# --- one fault, one finding ---------------------------------------------------------------------


def test_deleted_object_is_missing(arc: Archive) -> None:
    doc = arc.docs["permit"]
    arc.store.delete(doc.pdf_key)
    for mode in Mode:
        assert kinds(check(arc, mode)) == [("object_missing", doc.pdf_key, doc.id)], mode


def test_flipped_byte_is_a_checksum_mismatch(arc: Archive) -> None:
    doc = arc.docs["license"]
    data = bytearray(read_raw(arc.store, doc.original_key))
    data[3] ^= 0x01
    overwrite_behind_back(arc.store, doc.original_key, bytes(data))
    report = check(arc, Mode.FULL)
    assert kinds(report) == [("checksum_mismatch", doc.original_key, doc.id)]
    (finding,) = report.findings
    assert finding.detail["actual"] == sha(bytes(data))
    assert report.findings.exit_code() == 2


def test_truncated_pdf_is_a_size_mismatch(arc: Archive) -> None:
    doc = arc.docs["ent_form"]
    data = read_raw(arc.store, doc.pdf_key)
    overwrite_behind_back(arc.store, doc.pdf_key, data[: len(data) // 2])
    for mode in Mode:
        assert kinds(check(arc, mode)) == [("size_mismatch", doc.pdf_key, doc.id)], mode


def test_key_renamed_in_the_store_is_missing_plus_orphan(arc: Archive) -> None:
    doc = arc.docs["ind_form"]
    moved = doc.pdf_key.replace(".pdf", "-改名.pdf")
    arc.store.move(doc.pdf_key, moved)
    assert kinds(check(arc)) == sorted([
        ("object_missing", doc.pdf_key, doc.id), ("orphan", moved, None)])


def test_key_renamed_in_the_record_is_key_drift(arc: Archive) -> None:
    doc = arc.docs["permit"]
    moved = doc.pdf_key.replace("archive/", "archive/旧目录/", 1)
    arc.store.move(doc.pdf_key, moved)
    arc.update("permit", pdf_key=moved)
    report = check(arc)
    assert kinds(report) == [("key_drift", moved, doc.id)]
    assert report.findings.of_kind("key_drift")[0].detail["expected_key"] == doc.pdf_key


def test_uploaded_orphan(arc: Archive) -> None:
    key = "originals/企业客户/2024/Q2/北京测试科技有限公司/孤儿.jpg"
    arc.store.put(key, io.BytesIO(b"left by a crash between upload and commit"))
    arc.store.put("elsewhere/not-ours.txt", io.BytesIO(b"outside the archive prefixes"))
    assert kinds(check(arc, Mode.METADATA)) == [("orphan", key, None)]


def test_duplicate_of_a_records_file(arc: Archive) -> None:
    same_pdf = read_raw(arc.store, arc.docs["license"].pdf_key)
    dup = arc.add_doc("dup", customer="ind", document_type="other", pdf=same_pdf)
    report = check(arc, Mode.METADATA)
    assert kinds(report) == [("duplicate_sha256", None, arc.docs["license"].id)]
    assert report.findings.of_kind("duplicate_sha256")[0].detail["document_ids"] == [
        arc.docs["license"].id, dup.id]


def test_backdated_license_is_expired_and_a_near_end_is_expiring(arc: Archive) -> None:
    today = utcnow().date()
    arc.update("license", fields={"term_end": {"value": (today - timedelta(days=2)).isoformat()}})
    arc.update("ent_id", fields={"valid_to": {"value": (today + timedelta(days=10)).isoformat()}})
    report = check(arc, Mode.METADATA)
    assert kinds(report) == sorted([
        ("expired", None, arc.docs["license"].id), ("expiring", None, arc.docs["ent_id"].id)])
    assert report.findings.exit_code() == 1


def test_damaged_pdfs_in_the_record(arc: Archive) -> None:
    """PDFs archived broken (their bytes match the record): unreadable, page count, text."""
    whole = make_pdf(2, "contract")
    broken = arc.add_doc("broken", customer="ent", document_type="contract",
                         pdf=whole[: len(whole) // 2])
    pages = arc.add_doc("pages", customer="ent", document_type="contract",
                        pdf=make_pdf(1, "one page"), page_count=3)
    notext = arc.add_doc("notext", customer="ent", document_type="contract",
                         pdf=make_pdf(1, None), ocr_text="识别出的文字")
    image_only = arc.add_doc("image", customer="ent", document_type="contract",
                             pdf=make_pdf(2, None), page_count=2, ocr_text=None)
    assert image_only.id  # no OCR text recorded, so no text layer expected
    assert kinds(check(arc, Mode.FULL)) == sorted([
        ("pdf_unreadable", broken.pdf_key, broken.id),
        ("page_count_mismatch", pages.pdf_key, pages.id),
        ("no_text_layer", notext.pdf_key, notext.id),
    ])
    assert kinds(check(arc, Mode.METADATA)) == []


def test_incremental_mode_rehashes_only_objects_due(arc: Archive) -> None:
    assert kinds(check(arc, Mode.FULL)) == []
    doc = arc.docs["ind_id"]
    data = bytearray(read_raw(arc.store, doc.pdf_key))
    data[-10] ^= 0x20
    overwrite_behind_back(arc.store, doc.pdf_key, bytes(data))
    soon = check(arc, Mode.INCREMENTAL, scrub_days=7)
    assert soon.stats["hashed_objects"] == 0
    later = check(arc, Mode.INCREMENTAL, scrub_days=7, now=utcnow() + timedelta(days=8))
    assert later.stats["hashed_objects"] == 12
    assert kinds(later) == [("checksum_mismatch", doc.pdf_key, doc.id)]
    # The damaged object was not stamped as verified, so the next run reads it again.
    again = check(arc, Mode.INCREMENTAL, scrub_days=7, now=utcnow() + timedelta(days=8))
    assert again.stats["hashed_objects"] == 1
    assert kinds(again) == [("checksum_mismatch", doc.pdf_key, doc.id)]


# --- PDFs already proven: hashed, not reopened (each store on each database) -----------------


@pytest.fixture
def proven_arc(engine: Engine, store: ObjectStore) -> Archive:
    """A clean archive (plus an image-only PDF with no OCR text) after one clean full run."""
    arc = build_clean_archive(engine, store)
    arc.add_doc("image", customer="ent", document_type="contract", pdf=make_pdf(1, None),
                ocr_text=None)
    first = check(arc, Mode.FULL)
    assert kinds(first) == [] and first.stats["opened_pdfs"] == 7
    return arc


def set_columns(arc: Archive, name: str, **values: Any) -> None:
    """Change a document's row behind the application's back (no repository rules)."""
    with session_scope(arc.engine) as session:
        session.execute(sa.update(Document).where(col(Document.id) == arc.docs[name].id)
                        .values(**values))


def test_proven_pdfs_are_hashed_but_not_reopened(proven_arc: Archive) -> None:
    arc = proven_arc
    again = check(arc, Mode.FULL)
    assert kinds(again) == []
    assert again.stats["hashed_objects"] == 14 and again.stats["opened_pdfs"] == 0
    deep = check(arc, Mode.FULL, deep=True)
    assert kinds(deep) == [] and deep.stats["opened_pdfs"] == 7


def test_pdf_bytes_changed_after_a_clean_run_are_still_found(proven_arc: Archive) -> None:
    arc = proven_arc
    flipped, cut = arc.docs["license"], arc.docs["ent_form"]
    data = bytearray(read_raw(arc.store, flipped.pdf_key))
    data[len(data) // 2] ^= 0x01
    overwrite_behind_back(arc.store, flipped.pdf_key, bytes(data))
    whole = read_raw(arc.store, cut.pdf_key)
    overwrite_behind_back(arc.store, cut.pdf_key, whole[: len(whole) // 2])
    expected = sorted([("checksum_mismatch", flipped.pdf_key, flipped.id),
                       ("size_mismatch", cut.pdf_key, cut.id)])
    assert kinds(check(arc, Mode.FULL)) == expected
    assert kinds(check(arc, Mode.FULL)) == expected  # not stamped: found again


def test_new_bytes_under_a_proven_key_are_opened_again(proven_arc: Archive) -> None:
    """Bytes replaced and the record's digest updated to match: the proof no longer applies."""
    arc = proven_arc
    whole = make_pdf(2, "replaced")
    replacements = {"permit": whole[: len(whole) // 2], "ind_form": make_pdf(3, "three pages")}
    for name, data in replacements.items():
        overwrite_behind_back(arc.store, str(arc.docs[name].pdf_key), data)
        set_columns(arc, name, pdf_sha256=sha(data), pdf_size=len(data))
    report = check(arc, Mode.FULL)
    permit, form = arc.docs["permit"], arc.docs["ind_form"]
    assert kinds(report) == sorted([("pdf_unreadable", permit.pdf_key, permit.id),
                                    ("page_count_mismatch", form.pdf_key, form.id)])
    assert report.stats["opened_pdfs"] == 2


def test_record_changed_after_a_clean_run_is_judged_again(proven_arc: Archive) -> None:
    arc = proven_arc
    permit, image = arc.docs["permit"], arc.docs["image"]
    set_columns(arc, "permit", page_count=3)
    arc.update("image", ocr_text="识别出的文字")  # now a text layer is expected
    expected = sorted([("page_count_mismatch", permit.pdf_key, permit.id),
                       ("no_text_layer", image.pdf_key, image.id)])
    report = check(arc, Mode.FULL)
    assert kinds(report) == expected
    # The page count is judged by the facts proven last time; the text layer was never looked
    # for in those bytes, so that PDF alone is opened.
    assert report.stats["opened_pdfs"] == 1
    assert kinds(check(arc, Mode.FULL, deep=True)) == expected
    later = check(arc, Mode.INCREMENTAL, scrub_days=7, now=utcnow() + timedelta(days=8))
    assert kinds(later) == expected and later.stats["hashed_objects"] == 14
    set_columns(arc, "permit", page_count=1)
    arc.update("image", ocr_text=None)
    fixed = check(arc, Mode.FULL)
    assert kinds(fixed) == [] and fixed.stats["opened_pdfs"] == 0


def test_reads_in_memory_and_in_the_pool_find_the_same(arc: Archive) -> None:
    """Small objects already in memory are checked in the calling thread (local store); the
    findings are those of the pool's reads, fault for fault."""
    flipped = arc.docs["license"]
    data = bytearray(read_raw(arc.store, flipped.original_key))
    data[3] ^= 0x01
    overwrite_behind_back(arc.store, flipped.original_key, bytes(data))
    whole = make_pdf(2, "contract")
    arc.add_doc("broken", customer="ent", document_type="contract", pdf=whole[: len(whole) // 2])
    arc.add_doc("pages", customer="ent", document_type="contract", pdf=make_pdf(1, "one"),
                page_count=3)
    arc.add_doc("notext", customer="ent", document_type="contract", pdf=make_pdf(1, None),
                ocr_text="识别出的文字")
    in_memory = 18 if isinstance(arc.store, LocalObjectStore) else 0

    def both(*, first: bool, opened: int, **kw: Any) -> None:
        reports = []
        for inline in (0, CheckOptions.inline_read_bytes):
            if first:  # as before any full run: no verification stamps
                with session_scope(arc.engine) as session:
                    session.execute(sa.delete(ObjectVerification))
            reports.append(check(arc, Mode.FULL, inline_read_bytes=inline, **kw))
        pooled, here = reports
        assert len(kinds(here)) == 4 and kinds(here) == kinds(pooled)
        assert (pooled.stats["in_memory_reads"], here.stats["in_memory_reads"]) == (0, in_memory)
        assert pooled.stats["opened_pdfs"] == here.stats["opened_pdfs"] == opened

    both(first=True, opened=9)  # every PDF opened
    both(first=False, opened=9, deep=True)
    both(first=False, opened=3)  # the 6 clean ones judged by their proven facts


def test_local_store_reads_in_memory_only_whole_objects(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "root")
    store.ensure_ready()
    data = make_pdf(3, "in memory")
    store.put("archive/a.pdf", io.BytesIO(data))
    buffer = memoryview(bytearray(len(data) + 1))
    assert store.read_in_memory("archive/a.pdf", buffer) == len(data)
    assert bytes(buffer[: len(data)]) == data
    assert store.read_in_memory("archive/a.pdf", buffer[: len(data)]) is None  # does not fit
    assert store.read_in_memory("archive/missing.pdf", buffer) is None
    assert store.read_in_memory(".dossier-meta/x", buffer) is None
    # Dropped from the page cache, the bytes are read by open() instead (where the file system
    # can drop them; a tmpfs keeps them): never a part of them.
    fd = os.open(store.root / "archive" / "a.pdf", os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    assert store.read_in_memory("archive/a.pdf", buffer) in (None, len(data))


def test_local_store_reads_stay_inside_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    (outside / "x.pdf").write_bytes(b"not the store's")
    store = LocalObjectStore(root)
    store.ensure_ready()
    store.put("archive/a.pdf", io.BytesIO(b"inside"))
    (root / "escape").symlink_to(outside, target_is_directory=True)
    for key in ("escape/x.pdf", "escape/missing.pdf"):
        with pytest.raises(InvalidKeyError):
            store.open(key, verify=False)
        assert store.read_in_memory(key, memoryview(bytearray(100))) is None
    (tmp_path / "link").symlink_to(root, target_is_directory=True)
    assert read_raw(LocalObjectStore(tmp_path / "link"), "archive/a.pdf") == b"inside"


# --- database rules (SQLite and PostgreSQL) ---------------------------------------------------


def test_review_stale_checklist_and_invariants(db_arc: Archive) -> None:
    arc = db_arc
    pending = arc.add_doc("pending", customer="ent", document_type="contract",
                          status="pending_review")
    with session_scope(arc.engine) as session:
        arc.customers["new"] = repo.create_customer(session, actor="tester", data={
            "name": "王五", "customer_type": "individual", "id_number": make_id_number(9)})
    arc.add_doc("new_id", customer="new", document_type="id_card")
    lone = arc.add_doc("lone", customer=None, document_type="other")
    old = arc.add_doc("old", customer="ent", document_type="contract")
    arc.update("old", status="superseded")
    now_findings = check(arc, Mode.METADATA)
    assert kinds(now_findings) == sorted([
        ("checklist_missing", None, None),
        ("invariant_archived_without_customer", None, lone.id),
        ("invariant_superseded_without_successor", None, old.id),
    ])
    missing = now_findings.findings.of_kind("checklist_missing")[0]
    assert missing.detail["customer_code"] == arc.customers["new"].code
    assert missing.detail["document_type"] == "customer_form"
    later = check(arc, Mode.METADATA, now=utcnow() + timedelta(days=8), review_stale_days=7)
    assert [k for k in kinds(later) if k[0] == "review_stale"] == [
        ("review_stale", None, pending.id)]


def test_record_run_marks_new_open_and_resolved(db_arc: Archive) -> None:
    arc = db_arc
    doc = arc.docs["permit"]
    kept = read_raw(arc.store, doc.original_key)
    arc.store.delete(doc.original_key)

    def record(report: CheckReport) -> dict[str, Any]:
        with session_scope(arc.engine) as session:
            return record_run(session, report=report)

    first = record(check(arc))
    assert [(f["kind"], f["status"]) for f in first["findings"]] == [("object_missing", "new")]
    assert first["exit_code"] == 2 and first["counts"]["critical"] == 1
    second = record(check(arc))
    assert second["previous_run_id"] == first["run_id"]
    assert [(f["kind"], f["status"]) for f in second["findings"]] == [("object_missing", "open")]
    arc.store.put(doc.original_key, io.BytesIO(kept), sha256=sha(kept))
    third = record(check(arc))
    assert [(f["kind"], f["status"]) for f in third["findings"]] == [
        ("object_missing", "resolved")]
    assert third["exit_code"] == 0 and third["counts"]["resolved"] == 1
    # A metadata run cannot see content problems: it carries them over instead of resolving.
    data = bytearray(kept)
    data[0] ^= 0xFF
    overwrite_behind_back(arc.store, doc.original_key, bytes(data))
    assert [f["status"] for f in record(check(arc))["findings"]] == ["new"]
    carried = record(check(arc, Mode.METADATA))["findings"]
    assert [(f["kind"], f["status"]) for f in carried] == [("checksum_mismatch", "open")]
    assert carried[0]["detail"]["carried_over_from"]
    with Session(arc.engine) as session:
        stored = session.exec(select(IntegrityFinding)).all()
    assert len(stored) == 5  # one row per run


# --- repair -------------------------------------------------------------------------------------


def test_repair_resolves_what_it_can(engine: Engine, store: ObjectStore) -> None:
    arc = build_clean_archive(engine, store)
    # 1. An object renamed in the store: missing for its record, an orphan elsewhere.
    form = arc.docs["ent_form"]
    renamed = form.pdf_key.replace(".pdf", "-副本.pdf")
    store.move(form.pdf_key, renamed)
    # 2. A customer renamed: both of its documents' objects now drift.
    with session_scope(engine) as session:
        repo.update_customer(session, code=arc.customers["ind"].code, changes={"name": "李四新"},
                             actor="tester")
    # 3. An orphan that matches nothing.
    stray = "archive/企业客户/2024/Q2/北京测试科技有限公司/无主.pdf"
    store.put(stray, io.BytesIO(make_pdf(1, "stray")))

    def run() -> dict[str, Any]:
        report = check(arc)
        actions = repair(engine=engine, store=store, findings=report.findings, actor="tester")
        with session_scope(engine) as session:
            summary = record_run(session, report=report, repairs=actions)
        return summary

    first = run()
    assert sorted(f["kind"] for f in first["findings"]) == [
        "key_drift", "key_drift", "key_drift", "key_drift", "object_missing", "orphan", "orphan"]
    assert sorted((a["action"], a["ok"]) for a in first["repairs"]) == [
        ("lost_found", True), ("move_back", True), ("move_back", True), ("move_back", True),
        ("move_back", True), ("relink", True)]
    second = run()
    assert {f["status"] for f in second["findings"]} == {"resolved"}
    assert len(second["findings"]) == 7 and second["exit_code"] == 0
    assert second["repairs"] == []
    # Nothing was deleted: the stray orphan is under lost+found, the documents are intact.
    assert read_raw(store, f"lost+found/{stray}") == make_pdf(1, "stray")
    with Session(engine) as session:
        moved = session.get(Document, arc.docs["ind_id"].id)
        assert moved is not None and "李四新" in str(moved.pdf_key)
        assert matches_expected_key(str(moved.pdf_key), str(moved.pdf_key))
        actions = session.exec(
            select(AuditEvent.action).where(col(AuditEvent.action).like("integrity.%"))
        ).all()
    assert sorted(actions) == ["integrity.lost_found", "integrity.move_back",
                               "integrity.move_back", "integrity.move_back",
                               "integrity.move_back", "integrity.relink"]
    assert kinds(check(arc)) == []


# --- small pure pieces ------------------------------------------------------------------------


def test_collision_suffixes_are_not_drift() -> None:
    expected = "archive/企业客户/2024/Q2/某公司/某公司-营业执照-2024-05-06.pdf"
    assert matches_expected_key(expected, expected)
    assert matches_expected_key(expected.replace(".pdf", "-2.pdf"), expected)
    assert matches_expected_key(expected.replace(".pdf", "-13.pdf"), expected)
    assert not matches_expected_key(expected.replace(".pdf", "-1.pdf"), expected)
    assert not matches_expected_key(expected.replace(".pdf", "-02.pdf"), expected)
    assert not matches_expected_key(expected.replace(".pdf", "-x.pdf"), expected)
    assert not matches_expected_key(expected.replace("Q2", "Q3"), expected)


def test_quarantine_staleness() -> None:
    now = utcnow()
    items = [
        QuarantineItem("corrupt/20240101/a.pdf", "corrupt", now - timedelta(days=20)),
        QuarantineItem("corrupt/20240101/b.pdf", "corrupt", now - timedelta(days=3)),
    ]
    found = check_quarantine(items, options=CheckOptions(now=now, quarantine_stale_days=14))
    assert [(f.kind, f.detail["name"], f.detail["days"]) for f in found] == [
        ("quarantine_stale", "corrupt/20240101/a.pdf", 20)]
