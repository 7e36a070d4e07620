"""The ingestion path end to end: intake file -> searchable, named PDF + original in the store,
a database row whose checksums match the stored bytes, an empty intake and work area.

Real tesseract, real LibreOffice, real SQLite/PostgreSQL and the S3-protocol server. Scans are
generated at 200 DPI (``SMALL_DPI``) and processed at 200 DPI to keep OCR affordable; the OCR
accuracy itself is measured elsewhere (tests/integration/test_ocr.py, bench/).
"""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.intake_pass import Outcome, RunReport, run_pass
from archive.storage import ObjectStore
from bench.samples import generate
from config import Settings
from ingest.pipeline import PipelineParams, normalize_file
from models.customer import Customer
from models.document import Document
from tests.fixtures.ingest import (
    all_documents,
    drop_sample,
    error_record,
    intake_files,
    quarantined_files,
    sha256_path,
    stored_objects,
    work_claims,
    write_office_file,
)

pytest_plugins = ["tests.fixtures.ingest"]

KEY_RE = re.compile(
    r"^archive/(?P<ctype>[^/]+)/(?P<year>\d{4})/Q(?P<q>[1-4])/(?P<name>[^/]+)/"
    r"(?P=name)-(?P<dtype>[^/]+)-(?P<date>\d{4}-\d{2}-\d{2})(?:-\d+)?\.pdf$"
)
TEXT_PDF_TEXT = (
    "客户资料登记表\n客户名称：北京文本测试科技有限公司\n"
    "统一社会信用代码：91110108000000001X\n联系人：张伟\n"
)
DOCX_TEXT = (
    "合同\n甲方：上海文档测试贸易有限公司\n乙方：北京某某科技有限公司\n合同金额：人民币壹万元整\n"
)


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).replace("\x00", "").split())


def _by_source(report: RunReport) -> dict[str, Outcome]:
    outcomes = {o.source: o for o in report.outcomes}
    assert len(outcomes) == len(report.outcomes), "a file was reported twice"
    return outcomes


def _docs_by_id(engine: Engine) -> dict[int, Document]:
    return {d.id: d for d in all_documents(engine) if d.id is not None}


def _customer_name(engine: Engine, customer_id: int | None) -> str | None:
    if customer_id is None:
        return None
    with Session(engine) as session:
        customer = session.get(Customer, customer_id)
        return customer.name if customer else None


def assert_filed_correctly(
    outcome: Outcome,
    *,
    input_sha256: str,
    input_ext: str,
    engine: Engine,
    objects: dict[str, str],
    settings: Settings,
) -> list[Document]:
    """Naming, originals, checksums and a readable PDF for every document of one outcome."""
    assert outcome.kind in ("archived", "needs_review"), outcome
    assert outcome.sha256 == input_sha256
    assert outcome.documents, outcome
    rows = _docs_by_id(engine)
    taxonomy = settings.taxonomy
    templates = taxonomy.templates
    filed = []
    for fd in outcome.documents:
        doc = rows[fd.document_id]
        filed.append(doc)
        match = KEY_RE.match(doc.pdf_key or "")
        assert match, doc.pdf_key
        assert match["dtype"] == taxonomy.document_type(doc.document_type).label
        submitted = date.fromisoformat(match["date"])
        assert submitted == doc.submitted_date
        assert int(match["year"]) == submitted.year
        assert int(match["q"]) == (submitted.month - 1) // 3 + 1
        name = _customer_name(engine, doc.customer_id)
        assert match["name"] == (name or templates.unassigned_customer)
        if name is None:
            assert match["ctype"] == templates.unassigned_customer_type
        # the original, byte for byte, next to it under originals/
        folder = doc.pdf_key.split("/", 1)[1].rsplit("/", 1)[0]
        assert doc.original_key.startswith(f"{templates.originals_prefix}/{folder}/")
        assert doc.original_key.endswith(input_ext)
        assert doc.original_sha256 == input_sha256
        assert objects[doc.original_key] == input_sha256
        assert objects[doc.pdf_key] == doc.pdf_sha256
        assert doc.ingest_run_id is not None
    return filed


def stored_pdf(store: ObjectStore, key: str) -> PdfReader:
    """The stored PDF, read in full (checksum-verified) and opened with pypdf."""
    with store.open(key) as stream:
        return PdfReader(io.BytesIO(stream.read()))


def assert_readable_pdf(store: ObjectStore, doc: Document, *, ocr: bool) -> str:
    """The stored PDF opens, has the recorded page count; OCR'd pages carry a text layer."""
    reader = stored_pdf(store, doc.pdf_key)
    assert len(reader.pages) == doc.page_count
    texts = [page.extract_text() or "" for page in reader.pages]
    if ocr:
        for n, text in enumerate(texts, start=1):
            assert _squash(text), f"page {n} of {doc.pdf_key} has no text layer"
    return "\n".join(texts)


def assert_clean_afterwards(settings: Settings) -> None:
    assert intake_files(settings) == [], "the intake still holds files"
    assert work_claims(settings) == [], "the work area still holds a claim"


# ---- 1. every format, one store, SQLite ----------------------------------------------------


@pytest.fixture
def formats_intake(settings: Settings, tmp_path: Path) -> dict[str, dict]:
    """One file per format in the intake; name -> expectations."""
    intake = Path(settings.intake_dir)
    drop_sample(intake, "营业执照.jpg", "business_license", seed=21)
    drop_sample(intake, "身份证.png", "id_card", seed=22)
    drop_sample(intake, "合同-两页.tiff", [("contract", 23), ("contract", 24)])
    drop_sample(intake, "门店/开户许可证.bmp", "bank_permit", seed=25)
    drop_sample(intake, "客户资料.webp", "customer_form", seed=26)
    drop_sample(intake, "扫描件.pdf", "business_license", seed=27)
    scratch = tmp_path / "office"
    write_office_file(TEXT_PDF_TEXT, target="pdf", out=intake / "文本层.pdf", scratch=scratch)
    write_office_file(
        DOCX_TEXT, target="docx:MS Word 2007 XML", out=intake / "合同.docx", scratch=scratch
    )
    return {
        "营业执照.jpg": {"types": ["business_license"], "pages": 1, "ocr": True},
        "身份证.png": {"types": ["id_card"], "pages": 1, "ocr": True},
        "合同-两页.tiff": {"types": ["contract"], "pages": 2, "ocr": True},
        "门店/开户许可证.bmp": {"types": ["bank_permit"], "pages": 1, "ocr": True},
        "客户资料.webp": {"types": ["customer_form"], "pages": 1, "ocr": True},
        "扫描件.pdf": {"types": ["business_license"], "pages": 1, "ocr": True},
        "文本层.pdf": {"types": ["customer_form"], "pages": 1, "ocr": False},
        "合同.docx": {"types": ["contract"], "pages": 1, "ocr": False},
    }


@pytest.mark.timeout(600)
def test_every_format_becomes_a_named_searchable_pdf(
    settings: Settings,
    sqlite_engine: Engine,
    local_store: ObjectStore,
    ingest_services,
    formats_intake: dict[str, dict],
) -> None:
    intake = Path(settings.intake_dir)
    inputs = {name: intake / name for name in formats_intake}
    shas = {name: sha256_path(path) for name, path in inputs.items()}
    text_pdf_text = "\n".join(p.extract_text() for p in PdfReader(inputs["文本层.pdf"]).pages)

    services = ingest_services(engine=sqlite_engine, store=local_store, settings=settings)
    report = run_pass(services, settle=False)

    outcomes = _by_source(report)
    assert set(outcomes) == set(formats_intake)
    objects = stored_objects(local_store)
    for name, expected in formats_intake.items():
        docs = assert_filed_correctly(
            outcomes[name],
            input_sha256=shas[name],
            input_ext=Path(name).suffix,
            engine=sqlite_engine,
            objects=objects,
            settings=settings,
        )
        assert [d.document_type for d in docs] == expected["types"], name
        assert sum(d.page_count or 0 for d in docs) == expected["pages"], name
        for doc in docs:
            text = assert_readable_pdf(local_store, doc, ocr=expected["ocr"])
            assert (doc.ocr_confidence is not None) == expected["ocr"], name
            if not expected["ocr"]:
                assert _squash(text) and _squash(doc.ocr_text or "")
    # every object in the store belongs to exactly one row (nothing orphaned, nothing twice)
    rows = all_documents(sqlite_engine)
    referenced = {d.pdf_key for d in rows} | {d.original_key for d in rows}
    assert set(objects) == referenced
    assert len(rows) == len({d.pdf_key for d in rows})
    assert_clean_afterwards(settings)

    # The text-layer PDF: its own text is kept, page for page, and tesseract never ran on it.
    (text_doc,) = [d for d in rows if d.original_sha256 == shas["文本层.pdf"]]
    stored_text = assert_readable_pdf(local_store, text_doc, ocr=False)
    assert _squash(stored_text) == _squash(text_pdf_text)
    pages = stored_pdf(local_store, text_doc.pdf_key).pages
    assert all(not page.images for page in pages), "the text page was re-rendered as an image"
    assert "北京文本测试科技有限公司" in _squash(text_doc.ocr_text or "")
    docx_doc = next(d for d in rows if d.original_sha256 == shas["合同.docx"])
    assert docx_doc.fields["_meta"]["source_format"] == "docx"
    assert "上海文档测试贸易有限公司" in _squash(docx_doc.ocr_text or "")


@pytest.mark.timeout(120)
def test_a_text_layer_pdf_is_not_ocred_again(settings: Settings, tmp_path: Path) -> None:
    """The page result says where the text came from: the existing layer, not tesseract."""
    pdf = write_office_file(
        TEXT_PDF_TEXT, target="pdf", out=tmp_path / "in" / "文本层.pdf", scratch=tmp_path / "s"
    )
    result = normalize_file(
        pdf, params=PipelineParams.from_settings(settings), work_dir=tmp_path / "work"
    )
    assert [p.source for p in result.page_results] == ["text"]
    assert result.ocr_seconds == 0
    assert result.parts[0].ocr_confidence is None


# ---- 2. both backends x both databases -----------------------------------------------------


@pytest.mark.timeout(300)
def test_a_license_is_filed_on_each_backend_and_database(
    settings: Settings, engine: Engine, store: ObjectStore, ingest_services
) -> None:
    sample = generate("business_license", seed=10, dpi=200)
    path = drop_sample(Path(settings.intake_dir), "营业执照 扫描.png", "business_license", seed=10)
    sha = sha256_path(path)
    services = ingest_services(engine=engine, store=store, settings=settings, workers=1)
    report = run_pass(services, settle=False)

    (outcome,) = report.outcomes
    objects = stored_objects(store)
    (doc,) = assert_filed_correctly(
        outcome,
        input_sha256=sha,
        input_ext=".png",
        engine=engine,
        objects=objects,
        settings=settings,
    )
    assert doc.document_type == "business_license"
    assert _customer_name(engine, doc.customer_id) == sample.truth["fields"]["name"]
    assert_readable_pdf(store, doc, ocr=True)
    assert set(objects) == {doc.pdf_key, doc.original_key}
    assert_clean_afterwards(settings)
    with Session(engine) as session:
        from models.runs import IngestRun

        run = session.get(IngestRun, report.run_id)
        assert run is not None and run.status == "succeeded"
        assert run.counts == report.counts


# ---- 3. review policy -----------------------------------------------------------------------


CLEAN_FORM = ("customer_form", 13)  # reads without any review reason at 200 DPI


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("policy", "status", "reasons"),
    [("anomalies", "archived", []), ("all", "pending_review", ["second_check"])],
)
def test_review_policy_decides_whether_a_clean_document_waits(
    make_settings,
    sqlite_engine: Engine,
    local_store: ObjectStore,
    ingest_services,
    policy: str,
    status: str,
    reasons: list[str],
) -> None:
    settings = make_settings(review_policy=policy)
    kind, seed = CLEAN_FORM
    drop_sample(Path(settings.intake_dir), "登记表.png", kind, seed=seed)
    services = ingest_services(engine=sqlite_engine, store=local_store, settings=settings)
    (outcome,) = run_pass(services, settle=False).outcomes
    (doc,) = all_documents(sqlite_engine)
    assert doc.document_type == "customer_form"
    assert doc.status == status
    assert doc.review_reasons == reasons
    assert outcome.kind == ("archived" if status == "archived" else "needs_review")


# ---- 4. duplicates and blank pages ---------------------------------------------------------


@pytest.mark.timeout(300)
def test_the_same_bytes_twice_go_to_quarantine_duplicate(
    settings: Settings, sqlite_engine: Engine, local_store: ObjectStore, ingest_services
) -> None:
    intake = Path(settings.intake_dir)
    first = drop_sample(intake, "开户许可证.png", "bank_permit", seed=41)
    blank = drop_sample(intake, "背面.png", "blank", seed=42, degradation="show_through")
    data, sha = first.read_bytes(), sha256_path(first)
    blank_sha = sha256_path(blank)
    services = ingest_services(engine=sqlite_engine, store=local_store, settings=settings)
    report1 = run_pass(services, settle=False)
    outcomes = _by_source(report1)
    (original_doc,) = outcomes["开户许可证.png"].documents

    # the blank back side: filed for a person to look at, with the reason blank_page
    blank_outcome = outcomes["背面.png"]
    assert blank_outcome.kind == "needs_review"
    (blank_fd,) = blank_outcome.documents
    blank_doc = _docs_by_id(sqlite_engine)[blank_fd.document_id]
    assert "blank_page" in blank_doc.review_reasons
    assert blank_doc.document_type == "other"
    assert blank_doc.original_sha256 == blank_sha
    assert blank_doc.ocr_confidence is None  # never sent to tesseract

    # the same bytes again, under another name, in a sub-folder
    (intake / "再次提交").mkdir()
    (intake / "再次提交" / "许可证副本.png").write_bytes(data)
    services2 = ingest_services(engine=sqlite_engine, store=local_store, settings=settings)
    (dup,) = run_pass(services2, settle=False).outcomes
    assert dup.kind == "duplicate"
    assert dup.reason == "duplicate"
    quarantined = quarantined_files(settings)["许可证副本.png"]
    assert quarantined.parent.parent.name == "duplicate"
    assert quarantined.read_bytes() == data
    record = error_record(quarantined)
    assert record["sha256"] == sha
    assert record["extra"]["existing_document_id"] == original_doc.document_id
    assert record["reason"] == "duplicate"
    assert record["run_id"] == services2.run_id
    assert len(all_documents(sqlite_engine)) == 2  # license + blank, nothing more
    assert_clean_afterwards(settings)
