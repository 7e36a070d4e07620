"""Turn one input file into normalized documents: searchable PDFs, text, type, fields, reasons.

``normalize_file`` is pure content work (no database, no storage): it runs inside an isolated
worker process (``ingest.isolation``) with a time limit and a memory bound, writes its PDFs into
the claim's work folder and returns small, picklable results. Filing is someone else's job.

Per page: a page that already carries a text layer keeps it (no second OCR); an image page is
prepared (resolution, blank detection, orientation, deskew) and OCR'd into a page image with an
invisible text layer. Pages are then classified; a bundle holding several known document types
(form + license + ID copy) is split into one document per type.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from config import Settings
from ingest import pdfout
from ingest.cards import isolate_cards
from ingest.cellreads import reread_cells
from ingest.classify import OTHER, Classification, classify_pages, group_pages
from ingest.extract import extract_fields
from ingest.extract.confidence import DOUBT_REASONS, DOUBTFUL_FIELD, assess_fields, word_scores
from ingest.extract.geometry import PageLayout, boxes_from_words
from ingest.extraction_rules import option_texts
from ingest.fields import Field
from ingest.loading import Limits, LoadedDocument, load_document
from ingest.ocr.base import OcrEngine, OcrParams
from ingest.ocr.engines import shared_engine
from ingest.preprocess import normalize_mode, normalize_resolution, prepare_page
from ingest.rereads import apply_rereads, reread_key_codes, reread_page
from ingest.ticks import read_ticks

log = logging.getLogger("dossier.ingest")

#: Field reasons -> document review reasons (codes in config/taxonomy.toml [review_reasons]).
_FIELD_REASON_MAP = {
    "missing": "missing_field",
    "uscc_check_digit": "invalid_check_digit",
    "id_check_digit": "invalid_check_digit",
    "uscc_format": "invalid_check_digit",  # not even the shape of a code: no less doubtful
    "id_format": "invalid_check_digit",
    "id_birth_date": "invalid_check_digit",
    "uscc_corrected": "corrected_check_digit",
    "id_corrected": "corrected_check_digit",
    "expired": "expired",
    "expiring": "expiring",
    "id_birth_mismatch": "id_mismatch",
    "id_gender_mismatch": "id_mismatch",
    "uscc_candidates_mismatch": "code_conflict",
    "id_candidates_mismatch": "code_conflict",
    **{code: DOUBTFUL_FIELD for code in DOUBT_REASONS},
}

@dataclass(frozen=True)
class PipelineParams:
    """Everything ``normalize_file`` needs, as plain values (picklable)."""

    limits: Limits
    ocr: OcrParams
    target_dpi: int = 300
    min_confidence: float = 60.0
    expiry_warning_days: int = 30
    today: date | None = None
    ocr_engine: str = "cascade"
    #: The submitter's document type (an upload's hint): taken for pages no rule recognised.
    type_hint: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineParams:
        return cls(
            limits=Limits.from_settings(settings),
            ocr=OcrParams(
                languages=settings.ocr_languages,
                psm=settings.ocr_psm,
                dpi=settings.target_dpi,
                text_layer_font=_path_text(settings.ocr_text_layer_font),
            ),
            target_dpi=settings.target_dpi,
            min_confidence=settings.ocr_min_confidence,
            expiry_warning_days=settings.expiry_warning_days,
            ocr_engine=settings.ocr_engine,
        )


def _path_text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


@dataclass(frozen=True)
class PageResult:
    """What happened to one page (0-based ``index``)."""

    index: int
    source: str  # "text" (existing layer), "ocr" or "blank"
    text: str = ""
    confidence: float | None = None
    rotated_by: int = 0
    skew_degrees: float = 0.0
    pdf_page: Path | None = None  # single-page searchable PDF for OCR'd pages
    rereads: tuple[tuple[str, str, bool], ...] = ()  # (field, valid code, corrected) re-read
    cards: int = 0  # ID cards found on a copy; OCR read only inside them
    photo: bool = False  # a phone photo: the sheet was cut out and flattened
    layout: PageLayout | None = field(default=None, repr=False)  # OCR boxes and tick boxes
    words: tuple[tuple[str, float], ...] = ()  # the engine's scored words (confidence.word_scores)
    readings: tuple[tuple[str, float, str, float], ...] = ()  # the other engine's (rereads)
    second_seconds: float = 0.0  # of the OCR time: the other engine's second readings


@dataclass(frozen=True)
class NormalizedPart:
    """One document found in the file, ready for filing."""

    document_type: str
    type_confidence: float
    pages: tuple[int, ...]  # 0-based indexes into the input
    pdf_path: Path
    pdf_sha256: str
    pdf_size: int
    text: str
    ocr_confidence: float | None
    fields: dict[str, dict]
    reasons: tuple[str, ...]
    side: str | None = None
    type_from_hint: bool = False  # the type is the submitter's hint (no rule recognised it)


@dataclass(frozen=True)
class NormalizedFile:
    source_format: str
    mime: str
    page_count: int
    parts: tuple[NormalizedPart, ...]
    blank_pages: tuple[int, ...] = ()
    rotated_pages: tuple[int, ...] = ()
    ocr_seconds: float = 0.0
    seconds: float = 0.0
    page_results: tuple[PageResult, ...] = field(default=(), repr=False)


def normalize_file(
    path: Path, *, params: PipelineParams, work_dir: Path, engine: OcrEngine | None = None
) -> NormalizedFile:
    """Read, clean up, OCR, classify, split and extract one input file.

    Raises:
        IngestError subclasses: the file cannot be read (unsupported, corrupt, encrypted, too
            large); the caller quarantines it.
    """
    started = time.monotonic()
    engine = engine or shared_engine(params.ocr_engine)
    work_dir.mkdir(parents=True, exist_ok=True)
    with load_document(path, limits=params.limits, work_dir=work_dir) as doc:
        pages, ocr_seconds = _process_pages(doc, params=params, engine=engine, work_dir=work_dir)
        parts = _build_parts(doc, pages, params=params, work_dir=work_dir)
        fmt = doc.format
    return NormalizedFile(
        source_format=str(fmt.kind),
        mime=fmt.mime,
        page_count=len(pages),
        parts=tuple(parts),
        blank_pages=tuple(p.index for p in pages if p.source == "blank"),
        rotated_pages=tuple(p.index for p in pages if p.rotated_by),
        ocr_seconds=round(ocr_seconds, 3),
        seconds=round(time.monotonic() - started, 3),
        page_results=tuple(pages),
    )


def _process_pages(
    doc: LoadedDocument, *, params: PipelineParams, engine: OcrEngine, work_dir: Path
) -> tuple[list[PageResult], float]:
    results: list[PageResult] = []
    ocr_seconds = 0.0
    for info in doc.pages:
        if info.has_text:
            results.append(PageResult(index=info.index, source="text", text=info.text or ""))
            continue
        image = doc.render_page(info.index, dpi=params.target_dpi)
        t0 = time.monotonic()
        prepared = prepare_page(image, engine=engine, target_dpi=params.target_dpi)
        del image
        if prepared.is_blank:
            ocr_seconds += time.monotonic() - t0
            results.append(PageResult(index=info.index, source="blank"))
            continue
        page = prepared.ocr_image or prepared.image  # seal ink lifted
        cards = isolate_cards(page, dpi=params.target_dpi)  # ID copies: cards only
        ocr = engine.recognize(cards.image, params=replace(
            params.ocr, turned=(prepared.rotated_by, -prepared.skew_degrees), regions=cards.cards))
        card_count = len(cards.cards)
        del cards
        boxes = boxes_from_words(ocr.words)
        read = getattr(engine, "read_lines", None)
        unseen = reread_cells(page, ocr.text, boxes, read=read)
        if unseen:  # values the detector missed, read from their cells: words like the others
            ocr = replace(ocr, words=ocr.words + unseen)
            boxes = boxes_from_words(ocr.words)
        layout = PageLayout(boxes, read_ticks(page, boxes, option_texts()))
        rereads = reread_page(page, ocr, engine=engine, today=params.today,
                              layout=layout)
        ocr_seconds += time.monotonic() - t0
        page_pdf = work_dir / f"page-{info.index:04d}.pdf"
        pdfout.build_searchable_pdf(
            [pdfout.PagePdf(image=prepared.image, text_pdf=ocr.text_pdf)], page_pdf
        )
        results.append(
            PageResult(
                index=info.index,
                source="ocr",
                text=ocr.text,
                confidence=ocr.mean_confidence,
                rotated_by=prepared.rotated_by,
                skew_degrees=prepared.skew_degrees,
                pdf_page=page_pdf,
                rereads=rereads.codes,
                cards=card_count,
                photo=prepared.flattened,
                layout=layout,
                words=word_scores(ocr.words),
                readings=rereads.readings,
                second_seconds=rereads.second_seconds,
            )
        )
    return results, ocr_seconds


def group_documents(
    classifications: Sequence[Classification], *, content_pages: Sequence[int]
) -> list[tuple[str, float, str | None, list[int]]]:
    """Decide how the content pages of one file form documents.

    A file whose pages show at most one known type is ONE document (a multi-page contract, a
    scanned book); a bundle with several known types is split by ``group_pages``, and pages of
    unknown type stay with the document before them (or after them, at the start).

    Returns:
        ``(document_type, confidence, side, page_indexes)`` per document, pages 0-based.
    """
    known = {c.document_type for c in classifications if c.document_type != OTHER}
    if len(known) <= 1:
        doc_type = next(iter(known), OTHER)
        confs = [c.confidence for c in classifications if c.document_type == doc_type]
        side = next((c.side for c in classifications if c.side), None)
        return [(doc_type, min(confs) if confs else 0.0, side, list(content_pages))]
    groups = group_pages(classifications)
    out: list[tuple[str, float, str | None, list[int]]] = []
    pending_other: list[int] = []
    for g in groups:
        indexes = [content_pages[p - 1] for p in g.pages]
        if g.document_type == OTHER:
            if out:
                out[-1][3].extend(indexes)
            else:
                pending_other.extend(indexes)
            continue
        out.append((g.document_type, g.confidence, g.side, pending_other + indexes))
        pending_other = []
    return out


def _build_parts(
    doc: LoadedDocument, pages: list[PageResult], *, params: PipelineParams, work_dir: Path
) -> list[NormalizedPart]:
    content = [p for p in pages if p.source != "blank"]
    if not content:  # only blank pages: keep them all as one document for a person to look at
        return [_part(doc, pages, OTHER, 0.0, None, pages, params, work_dir, 0, blank=True)]
    classifications = classify_pages([p.text for p in content])
    by_index = {p.index: p for p in pages}
    parts = []
    for n, (doc_type, conf, side, indexes) in enumerate(
        group_documents(classifications, content_pages=[p.index for p in content])
    ):
        part_pages = [by_index[i] for i in sorted(indexes)]
        hinted = doc_type == OTHER and params.type_hint is not None
        if hinted:
            doc_type = params.type_hint or OTHER
        part = _part(doc, part_pages, doc_type, conf, side, pages, params, work_dir, n)
        parts.append(replace(part, type_from_hint=True) if hinted else part)
    return parts


def _part(
    doc: LoadedDocument,
    part_pages: list[PageResult],
    doc_type: str,
    confidence: float,
    side: str | None,
    all_pages: list[PageResult],
    params: PipelineParams,
    work_dir: Path,
    n: int,
    *,
    blank: bool = False,
) -> NormalizedPart:
    out = work_dir / f"document-{n:02d}.pdf"
    sources: list[pdfout.KeptPage] = []
    for p in part_pages:
        if p.source == "text":
            assert doc.source_pdf is not None
            sources.append(pdfout.KeptPage(source=doc.source_pdf, page_index=p.index))
        elif p.pdf_page is not None:
            sources.append(pdfout.KeptPage(source=p.pdf_page, page_index=0))
        else:  # a blank page kept as it is, at the resolution the blank test saw it
            # (a raw render can be a 1x2 px, 72 DPI image: a 1 pt page img2pdf refuses)
            image = normalize_resolution(
                normalize_mode(doc.render_page(p.index, dpi=params.target_dpi)),
                target_dpi=params.target_dpi,
            )
            blank_pdf = work_dir / f"blank-{p.index:04d}.pdf"
            pdfout.build_searchable_pdf([pdfout.PagePdf(image=image)], blank_pdf)
            sources.append(pdfout.KeptPage(source=blank_pdf, page_index=0))
    pdfout.build_searchable_pdf(sources, out)
    text = "\n\f\n".join(p.text for p in part_pages)
    fields = _extract(doc_type, part_pages, side=side, params=params)
    confs = [p.confidence for p in part_pages if p.confidence is not None]
    mean_conf = round(sum(confs) / len(confs), 1) if confs else None
    reasons = _reasons(doc_type, fields, mean_conf, params=params, blank=blank)
    data = out.read_bytes()
    return NormalizedPart(
        document_type=doc_type,
        type_confidence=confidence,
        pages=tuple(p.index for p in part_pages),
        pdf_path=out,
        pdf_sha256=hashlib.sha256(data).hexdigest(),
        pdf_size=len(data),
        text=text,
        ocr_confidence=mean_conf,
        fields={k: _field_dict(v) for k, v in fields.items()},
        reasons=tuple(reasons),
        side=side,
    )


def _extract(
    doc_type: str, part_pages: list[PageResult], *, side: str | None, params: PipelineParams
) -> dict[str, Field]:
    """Fields of a document: each field from the first page that yields it without doubt."""
    merged: dict[str, Field] = {}
    for number, page in enumerate(part_pages, start=1):
        found = extract_fields(
            doc_type,
            page.text,
            page=number,
            side=None,
            today=params.today,
            warning_days=params.expiry_warning_days,
            layout=page.layout,
        )
        for name, f in found.items():
            current = merged.get(name)
            if (
                current is None
                or (current.value is None and f.value is not None)
                or (current.reasons and f.value is not None and not f.reasons)
            ):
                merged[name] = f
    apply_rereads(merged, [(n, p.rereads) for n, p in enumerate(part_pages, start=1)])
    return assess_fields(
        doc_type,
        merged,
        pages=[p.words for p in part_pages],
        texts=[p.text for p in part_pages],
        readings=[p.readings for p in part_pages],
        today=params.today,
    )


def _field_dict(f: Field) -> dict:
    data = {
        "value": f.value,
        "confidence": f.confidence,
        "page": f.page,
        "reasons": list(f.reasons),
    }
    if f.unit:
        data["unit"] = f.unit
    if "reread" in f.reasons:
        data["note"] = "号码由图像区域重新识别并通过校验位核验"
    return data


def _reasons(
    doc_type: str,
    fields: dict[str, Field],
    mean_conf: float | None,
    *,
    params: PipelineParams,
    blank: bool,
) -> list[str]:
    reasons: list[str] = []
    if blank:
        reasons.append("blank_page")
    if doc_type == OTHER:
        reasons.append("unknown_type")
    if mean_conf is not None and mean_conf < params.min_confidence:
        reasons.append("low_ocr_confidence")
    for f in fields.values():
        for r in f.reasons:
            mapped = _FIELD_REASON_MAP.get(r)
            if mapped:
                reasons.append(mapped)
    return list(dict.fromkeys(reasons))


__all__ = [
    "NormalizedFile",
    "NormalizedPart",
    "PageResult",
    "PipelineParams",
    "group_documents",
    "normalize_file",
    "replace",
    "reread_key_codes",
]
