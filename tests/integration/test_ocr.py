"""Tesseract (ingest.ocr.tesseract) on generated pages: text, codes, orientation, timeouts."""

import pytest
from PIL import Image

from bench.samples import generate, id_check_digit, uscc_check_char
from ingest.errors import OcrError, ProcessingTimeoutError
from ingest.ocr.base import OcrParams, OcrResult, Word, code_region_after_label, normalize_ocr_text
from ingest.ocr.tesseract import TesseractEngine, mean_confidence, parse_osd, reread_code


def _valid_uscc(code: str) -> bool:
    try:
        return len(code) == 18 and code[-1] == uscc_check_char(code[:17])
    except ValueError:  # a character outside the USCC alphabet
        return False


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine()


@pytest.fixture(scope="module")
def license_page():
    return generate("business_license", seed=0)


@pytest.fixture(scope="module")
def license_result(engine: TesseractEngine, license_page) -> OcrResult:
    return engine.recognize(license_page.image, params=OcrParams())


def test_license_text_confidence_words_and_pdf_layer(license_page, license_result) -> None:
    fields = license_page.truth["fields"]
    assert "营业执照" in license_result.text
    assert fields["name"] in license_result.text
    assert fields["uscc"] in license_result.text
    assert 60 < license_result.mean_confidence <= 100
    assert len(license_result.words) > 30
    assert license_result.text_pdf is not None and license_result.text_pdf.startswith(b"%PDF")


def test_code_region_and_reread_give_the_uscc(engine, license_page, license_result) -> None:
    box = code_region_after_label(license_result.words, "统一社会信用代码",
                                  image_width=license_page.image.width)
    assert box is not None
    code = engine.reread_code(license_page.image, box, validate=_valid_uscc)
    assert code == license_page.truth["fields"]["uscc"]


@pytest.mark.parametrize(("kind", "seed", "degradation", "label"), [
    ("business_license", 1, ("seal_over_text", "noise"), "统一社会信用代码"),
    ("customer_form", 0, "seal_over_text", "统一社会信用代码"),
    ("id_card", 2, ("watermark", "noise"), "公民身份号码"),
])
def test_codes_survive_degradations_with_reread(engine, kind, seed, degradation, label) -> None:
    sample = generate(kind, seed=seed, degradation=degradation)
    truth = sample.truth["fields"].get("uscc") or sample.truth["fields"]["id_number"]
    result = engine.recognize(sample.image, params=OcrParams(text_pdf=False))
    assert result.text_pdf is None
    if kind != "customer_form" and truth in result.text.replace(" ", ""):
        return  # the form's code is under the seal: it must go through reread_code
    box = code_region_after_label(result.words, label, image_width=sample.image.width)
    assert box is not None, result.text
    check = _valid_uscc if kind != "id_card" else (
        lambda c: len(c) == 18 and c[-1] == id_check_digit(c[:17]))
    assert reread_code(sample.image, box, validate=check) == truth


@pytest.mark.parametrize(("degradation", "angle"), [("rotate90", 90), ("rotate270", 270)])
def test_osd_finds_the_turn_that_makes_the_page_upright(engine, degradation, angle) -> None:
    sample = generate("bank_permit", seed=4, degradation=degradation, dpi=150)
    found = engine.osd(sample.image)
    assert found.angle == angle
    assert found.confidence > 1.0


def test_osd_on_a_blank_page_gives_no_rotation(engine) -> None:
    found = engine.osd(generate("blank", seed=1, dpi=150).image)
    assert (found.angle, found.confidence) == (0, 0.0)


def test_timeout_raises_our_error(engine, license_page) -> None:
    with pytest.raises(ProcessingTimeoutError) as info:
        engine.recognize(license_page.image, params=OcrParams(timeout=0.05))
    assert info.value.code == "timeout"
    assert isinstance(info.value.__cause__, RuntimeError)


def test_osd_timeout_raises_our_error(license_page) -> None:
    with pytest.raises(ProcessingTimeoutError):
        TesseractEngine(osd_timeout=0.01).osd(license_page.image)


def test_unknown_language_raises_ocr_error(engine) -> None:
    page = Image.new("L", (200, 100), 255)
    with pytest.raises(OcrError) as info:
        engine.recognize(page, params=OcrParams(languages="xx_nonexistent"))
    assert info.value.code == "ocr_failed"
    assert info.value.__cause__ is not None


def test_blank_image_recognizes_to_empty_text(engine) -> None:
    result = engine.recognize(Image.new("L", (600, 800), 255), params=OcrParams(text_pdf=False))
    assert result.text == ""
    assert result.mean_confidence == 0.0


# Pure helpers (no tesseract) -----------------------------------------------------------------


@pytest.mark.parametrize(("raw", "clean"), [
    ("营 业 执 照", "营业执照"),
    ("统 一 社 会 信 用 代 码 91110108MA01ABCD3X", "统一社会信用代码 91110108MA01ABCD3X"),
    ("Hello  world 2024 年", "Hello world 2024 年"),
    ("名 称 ： 北 京\x00公 司\n\n  \n第 二 行 ", "名称：北京公司\n第二行"),
    ("HT-2024-0001 甲 方", "HT-2024-0001 甲方"),
])
def test_normalize_ocr_text(raw: str, clean: str) -> None:
    assert normalize_ocr_text(raw) == clean


def test_mean_confidence_ignores_minus_one() -> None:
    words = [Word("a", 90.0, 0, 0, 1, 1, (1, 1, 1)), Word("b", -1.0, 0, 0, 1, 1, (1, 1, 1)),
             Word("c", 70.0, 0, 0, 1, 1, (1, 1, 1))]
    assert mean_confidence(words) == 80.0
    assert mean_confidence([]) == 0.0


def test_parse_osd_report() -> None:
    report = ("Page number: 0\nOrientation in degrees: 270\nRotate: 90\n"
              "Orientation confidence: 6.93\nScript: Han\nScript confidence: 2.1\n")
    found = parse_osd(report)
    assert (found.angle, found.confidence) == (90, 6.93)
