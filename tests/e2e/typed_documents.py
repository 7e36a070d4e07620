"""Documents of every type for the web tests: each field the extraction rules can produce.

``add_typed_document`` stores a generated sample of a document type (PDF and PNG) and records a
pending document whose fields are every output field of that type's rules in
config/understanding.toml, with the sample's true value where the names match.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
from sqlmodel import Session

from archive.naming import archive_key, original_key
from bench.samples import generate, write_sample
from ingest.extraction_rules import load_extraction_rules
from models import repo
from tests.e2e.test_web_http import WebWorld, _sha256

#: Document type -> the sample kind that draws it.
SAMPLE_KINDS = {
    "business_license": "business_license",
    "id_card": "id_card",
    "bank_permit": "bank_permit",
    "customer_form": "customer_form",
    "contract": "contract",
}
AMOUNT = "500000"


def rule_fields(document_type: str) -> list[tuple[str, str]]:
    """``(field, kind)`` of every field the rules of ``document_type`` fill."""
    out: list[tuple[str, str]] = []
    for rule in load_extraction_rules().fields[document_type]:
        if rule.kind == "date_range":
            out += [(rule.targets[0], "date"), (rule.targets[1], "date")]
        else:
            out.append((rule.field, rule.kind))
    return list(dict.fromkeys(out))


def _value(name: str, kind: str, truth: dict) -> str:
    if kind == "amount":
        return AMOUNT
    if kind in ("date", "date_or_long"):
        return "2024-03-05"
    return str(truth.get(name) or "示例内容")


def add_typed_document(
    world: WebWorld,
    session: Session,
    *,
    document_type: str,
    customer_code: str | None,
    seed: int,
    workdir: Path,
    label: str | None = None,
    pages: int = 1,
) -> int:
    """Record a pending document of ``document_type`` with all its rule fields filled.

    With ``pages`` > 1 the PDF repeats the sample's page that many times.
    """
    label = label or document_type
    taxonomy = world.settings.taxonomy
    sample = generate(SAMPLE_KINDS[document_type], seed=seed, dpi=100)
    pdf_path = write_sample(sample, workdir / f"{label}.pdf")
    png_path = write_sample(sample, workdir / f"{label}.png")
    if pages > 1:
        _repeat_pages(pdf_path, pages)
    pdf, png = pdf_path.read_bytes(), png_path.read_bytes()
    customer = repo.get_customer(session, code=customer_code) if customer_code else None
    names = {
        "templates": taxonomy.templates,
        "customer_type_label": taxonomy.customer_type(customer.customer_type).label
        if customer
        else None,
        "customer_name": customer.name if customer else None,
        "document_type_label": taxonomy.document_type(document_type).label,
        "submitted": sample_date(seed),
    }
    pdf_key, orig_key = archive_key(**names), original_key(**names, original_ext=".png")
    world.store.put(pdf_key, pdf_path, content_type="application/pdf", sha256=_sha256(pdf))
    world.store.put(orig_key, png_path, content_type="image/png", sha256=_sha256(png))
    truth = sample.truth["fields"]
    fields = {
        name: {"value": _value(name, kind, truth), "confidence": 0.9, "page": 1}
        for name, kind in rule_fields(document_type)
    }
    doc = repo.create_document(
        session,
        data={
            "customer_id": customer.id if customer else None,
            "document_type": document_type,
            "submitted_date": names["submitted"],
            "original_filename": f"扫描件-{names['document_type_label']}.png",
            "original_key": orig_key,
            "original_sha256": _sha256(png),
            "original_size": len(png),
            "pdf_key": pdf_key,
            "pdf_sha256": _sha256(pdf),
            "pdf_size": len(pdf),
            "page_count": pages,
            "ocr_text": "\n".join(str(v) for v in truth.values() if v),
            "ocr_confidence": 0.9,
            "fields": fields,
            "review_reasons": ["second_check"],
            "submitted_by": "scanner",
        },
        actor="system",
        taxonomy=taxonomy,
    )
    session.commit()
    world.documents[label] = doc.id or 0
    return doc.id or 0


def _repeat_pages(pdf_path: Path, pages: int) -> None:
    source = pdfium.PdfDocument(pdf_path.read_bytes())
    out = pdfium.PdfDocument.new()
    for _ in range(pages):
        out.import_pages(source)
    buffer = io.BytesIO()
    out.save(buffer)
    out.close()
    source.close()
    pdf_path.write_bytes(buffer.getvalue())


def sample_date(seed: int) -> date:
    return date(2026, 10, 1 + seed % 28)
