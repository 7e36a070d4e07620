"""Agreement of the two engines on a real rendered page: RapidOCR reads the text, tesseract
reads the key names and dates again in the boxes RapidOCR found them in (ingest/rereads.py,
one tesseract run per page), and the assessment turns the verdicts into a note or a doubt."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bench.samples import generate
from ingest.extract import extract_fields
from ingest.extract.confidence import agreement, assess_fields, is_flagged, word_scores
from ingest.ocr.base import OcrParams, OcrResult
from ingest.ocr.engines import make_ocr_engine
from ingest.ocr.tesseract import TesseractEngine, read_regions
from ingest.rereads import reread_page, value_box

TODAY = date(2026, 11, 1)
KEYS = ("name", "legal_representative", "established_date")


@pytest.fixture(scope="module")
def page():  # noqa: ANN201 - (sample, engine, OCR result)
    sample = generate("business_license", seed=11)
    engine = make_ocr_engine("cascade")
    ocr: OcrResult = engine.recognize(sample.image, params=OcrParams(text_pdf=False))
    return sample, engine, ocr


@pytest.mark.timeout(120)
def test_tesseract_reads_rapidocrs_value_boxes_and_agrees(page) -> None:  # noqa: ANN001
    sample, engine, ocr = page
    found = reread_page(sample.image, ocr, engine=engine, today=TODAY, second_below=2.0)
    readings = {r[0]: r for r in found.readings}
    assert set(KEYS) <= set(readings)
    assert found.second_seconds > 0
    fields = extract_fields("business_license", ocr.text, today=TODAY)
    assessed = assess_fields(
        "business_license",
        fields,
        pages=[word_scores(ocr.words)],
        texts=[ocr.text],
        readings=[found.readings],
        today=TODAY,
    )
    truth = sample.truth["fields"]
    assert assessed["legal_representative"].value == truth["legal_representative"]
    for key in KEYS:
        f = assessed[key]
        assert "engines_agree" in f.reasons, (key, readings[key])
        assert not is_flagged({"value": f.value, "confidence": f.confidence, "reasons": f.reasons})
    # had RapidOCR misread the name, tesseract's reading of the same box would disagree
    _, _, text, confidence = readings["legal_representative"]
    person = fields["legal_representative"]
    misread = replace(person, value=person.value[0] + ("武" if person.value[-1] != "武" else "文"))
    labels = ("法定代表人",)
    assert agreement("legal_representative", misread, text, confidence, labels=labels) is False


@pytest.mark.timeout(120)
def test_sure_values_and_tesseract_alone_are_not_read_again(page) -> None:  # noqa: ANN001
    sample, engine, ocr = page
    sure = reread_page(sample.image, ocr, engine=engine, today=TODAY, second_below=0.0)
    assert sure.readings == ()
    alone = reread_page(sample.image, ocr, engine=TesseractEngine(), today=TODAY, second_below=2.0)
    assert alone.readings == ()  # tesseract reading the page has no second engine


@pytest.mark.timeout(120)
def test_read_regions_gives_each_box_its_own_text(page) -> None:  # noqa: ANN001
    sample, _, ocr = page
    truth = sample.truth["fields"]
    boxes = [
        value_box(ocr.words, truth["legal_representative"], sample.image.size),
        value_box(ocr.words, truth["name"], sample.image.size),
    ]
    assert None not in boxes
    (rep, rep_conf), (name, _) = read_regions(sample.image, [b[0] for b in boxes])  # type: ignore[index]
    assert truth["legal_representative"] in rep and rep_conf > 0
    assert truth["name"] in name
    assert read_regions(sample.image, []) == []
