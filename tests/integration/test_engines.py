"""OCR engines behind one interface: RapidOCR, the cascade, the key-field re-read (real OCR)."""

from __future__ import annotations

import difflib
import io
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from archive.filing import decide_status
from bench.samples import generate, write_sample
from config import load_settings
from ingest.errors import OcrError
from ingest.extract import extract_fields
from ingest.extract.confidence import DOUBT_CAP, is_flagged
from ingest.ocr.base import OcrParams, OcrResult, Orientation
from ingest.ocr.engines import CascadeEngine, make_ocr_engine
from ingest.ocr.layout import Piece, drop_watermark, order_lines, reuse_boxes
from ingest.ocr.rapid import RapidOcrEngine
from ingest.ocr.tesseract import TesseractEngine
from ingest.pipeline import PipelineParams, normalize_file

TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def rapid() -> RapidOcrEngine:
    return RapidOcrEngine(threads=1)


def _params(tmp_path: Path, engine: str = "cascade") -> PipelineParams:
    params = PipelineParams.from_settings(load_settings(home=tmp_path / "home"))
    return replace(params, today=TODAY, ocr_engine=engine)


# --- RapidOCR ---------------------------------------------------------------------------------


def test_rapidocr_reads_a_license_uscc_and_name(rapid: RapidOcrEngine) -> None:
    sample = generate("business_license", seed=41, degradation="noise")
    result = rapid.recognize(sample.image, params=OcrParams())
    fields = extract_fields("business_license", result.text, today=TODAY)
    assert fields["uscc"].value == sample.truth["fields"]["uscc"]
    assert fields["uscc"].reasons == []
    assert fields["name"].value == sample.truth["fields"]["name"]
    assert 50 < result.mean_confidence <= 100
    # The invisible text layer carries the same reading.
    layer = PdfReader(io.BytesIO(result.text_pdf or b"")).pages[0].extract_text()
    assert sample.truth["fields"]["uscc"] in layer.replace(" ", "")


def test_license_columns_are_read_apart(rapid: RapidOcrEngine) -> None:
    sample = generate("business_license", seed=42)
    lines = rapid.recognize(sample.image, params=OcrParams(text_pdf=False)).text.splitlines()
    name_line = next(line for line in lines if line.startswith("名称"))
    assert "注册资本" not in name_line
    # The left column (名称, 类型, 法定代表人, 经营范围) comes before the right one.
    order = [next(i for i, line in enumerate(lines) if line.startswith(label))
             for label in ("名称", "法定代表人", "经营范围", "注册资本", "住所")]
    assert order == sorted(order)


def _piece(text: str, left: int, top: int, right: int, angle: float = 0.0) -> Piece:
    return Piece(text=text, score=1.0, left=left, top=top, right=right, bottom=top + 60,
                 angle=angle)


def test_order_lines_splits_two_columns_and_keeps_a_single_wide_row() -> None:
    pieces = [
        _piece("注册资本", 1840, 820, 2060), _piece("名称", 210, 820, 420),
        _piece("某某科技发展有限公司", 540, 822, 1050), _piece("成立日期", 1840, 930, 2060),
        _piece("类型", 210, 930, 420), _piece("有限责任公司(自然人独资)", 540, 932, 1200),
        _piece("统一社会信用代码 913", 210, 620, 1250),
    ]
    lines = [" ".join(p.text for p in line) for line in order_lines(pieces)]
    assert lines == ["统一社会信用代码 913", "名称 某某科技发展有限公司",
                     "类型 有限责任公司(自然人独资)", "注册资本", "成立日期"]


def test_order_lines_keeps_a_form_label_and_its_value_on_one_line() -> None:
    pieces = [_piece("开户银行", 250, 1018, 470), _piece("招商银行南京分行", 633, 1022, 1344),
              _piece("账", 250, 1137, 328), _piece("号", 372, 1138, 456),
              _piece("9565798834969069706", 634, 1144, 1172)]
    lines = [" ".join(p.text for p in line) for line in order_lines(pieces)]
    assert lines == ["开户银行 招商银行南京分行", "账 号 9565798834969069706"]


def test_drop_watermark_keeps_upright_text_only() -> None:
    pieces = [_piece("姓名", 700, 430, 800), _piece("仅供开户使用", 0, 100, 500, angle=30),
              _piece("开户使用", 900, 900, 1200, angle=29.5), _piece("仅供", 50, 1500, 200, 31),
              _piece("印章", 300, 300, 400, angle=20)]
    kept = [p.text for p in drop_watermark(pieces)]
    assert kept == ["姓名", "印章"]


def test_watermarked_id_copy_is_read_without_the_watermark(rapid: RapidOcrEngine) -> None:
    sample = generate("id_card", seed=43, degradation=("watermark", "blur"))
    result = rapid.recognize(sample.image, params=OcrParams(text_pdf=False))
    assert sample.truth["watermark"][:2] not in result.text  # 仅供
    fields = extract_fields("id_card", result.text, today=TODAY)
    assert fields["id_number"].value == sample.truth["fields"]["id_number"]
    assert fields["name"].value == sample.truth["fields"]["name"]


@pytest.mark.parametrize("kind", ["business_license", "customer_form", "id_card"])
@pytest.mark.parametrize("turned_ccw", [0, 90, 180, 270])
def test_rapidocr_orientation_from_text_lines(rapid: RapidOcrEngine, kind: str,
                                              turned_ccw: int) -> None:
    sample = generate(kind, seed=47, degradation="watermark" if kind == "id_card" else "noise")
    page = sample.image.rotate(turned_ccw, expand=True) if turned_ccw else sample.image
    small = page.resize((page.width // 2, page.height // 2))
    small.info["dpi"] = (150, 150)
    found = rapid.osd(small)
    assert found.angle == turned_ccw  # a page turned n counter-clockwise needs n clockwise
    assert found.confidence >= 3.0


def test_rapidocr_orientation_is_unsure_without_text(rapid: RapidOcrEngine) -> None:
    found = rapid.osd(Image.new("L", (1240, 1754), 255))
    assert found == Orientation(angle=0, confidence=0.0)


def test_boxes_from_the_orientation_copy_read_like_a_fresh_detection(
    rapid: RapidOcrEngine,
) -> None:
    from ingest.preprocess import prepare_page  # noqa: PLC0415

    sample = generate("business_license", seed=48, degradation=("rotate180", "skew"))
    prepared = prepare_page(sample.image, engine=rapid, target_dpi=300)
    assert prepared.rotated_by == 180 and prepared.skew_degrees
    turned = (prepared.rotated_by, -prepared.skew_degrees)
    assert reuse_boxes(rapid._kept.layout, prepared.image.size, turned) is not None
    reused = rapid.recognize(prepared.image, params=OcrParams(text_pdf=False, turned=turned))
    fresh = rapid.recognize(prepared.image, params=OcrParams(text_pdf=False))
    # the same lines; a seal's curved fragments may be cut differently
    assert difflib.SequenceMatcher(None, reused.text, fresh.text).ratio() >= 0.95
    for key in ("uscc", "name", "legal_representative"):
        assert sample.truth["fields"][key] in reused.text.replace(" ", "")


# --- the cascade and the pipeline ---------------------------------------------------------------


def test_make_ocr_engine_names() -> None:
    assert make_ocr_engine("tesseract").name == "tesseract"
    assert make_ocr_engine("rapidocr").name == "rapidocr"
    assert make_ocr_engine("cascade").name == "cascade"
    with pytest.raises(ValueError):
        make_ocr_engine("ocrmypdf")


def test_cascade_engine_through_normalize_file(tmp_path: Path) -> None:
    sample = generate("business_license", seed=44, degradation=("noise", "rotate90"))
    path = write_sample(sample, tmp_path / "执照.png")
    result = normalize_file(path, params=_params(tmp_path), work_dir=tmp_path / "out",
                            engine=make_ocr_engine("cascade"))
    (part,) = result.parts
    assert part.document_type == "business_license"
    assert part.fields["uscc"]["value"] == sample.truth["fields"]["uscc"]
    assert part.fields["name"]["value"] == sample.truth["fields"]["name"]
    assert result.rotated_pages == (0,)
    text = PdfReader(part.pdf_path).pages[0].extract_text().replace(" ", "")
    assert sample.truth["fields"]["uscc"] in text


class _MisreadCode:
    """A text engine that misreads the USCC's 5th character (as a blurred scan would):
    fault injection through the engine seam; the page image is untouched."""

    name = "misread"

    def __init__(self, inner: TesseractEngine, code: str, wrong: str | None = None) -> None:
        self.inner, self.code = inner, code
        self.wrong = wrong or code[:4] + ("7" if code[4] != "7" else "8") + code[5:]

    def osd(self, image: Image.Image) -> Orientation:
        return self.inner.osd(image)

    def recognize(self, image: Image.Image, *, params: OcrParams) -> OcrResult:
        result = self.inner.recognize(image, params=params)
        return replace(result, text=result.text.replace(self.code, self.wrong))


class _Garbage:
    name = "garbage"

    def reread_code(self, image: Image.Image, region_box: tuple[int, int, int, int], *,
                    validate: Callable[[str], bool] | None = None) -> str:
        return "91110000XXXXXXXXX1"


class _Broken:
    name = "broken"

    def reread_code(self, image: Image.Image, region_box: tuple[int, int, int, int], *,
                    validate: Callable[[str], bool] | None = None) -> str:
        raise OcrError("engine crashed")


def _license(tmp_path: Path) -> tuple[Path, str]:
    sample = generate("business_license", seed=45, degradation="noise")
    return write_sample(sample, tmp_path / "license.png"), sample.truth["fields"]["uscc"]


def test_invalid_code_is_reread_from_the_image_and_marked(
    tmp_path: Path, rapid: RapidOcrEngine
) -> None:
    path, uscc = _license(tmp_path)
    tesseract = TesseractEngine()
    engine = CascadeEngine(orientation=tesseract, text=_MisreadCode(tesseract, uscc),
                           readers=(_Broken(), tesseract, rapid))
    (part,) = normalize_file(path, params=_params(tmp_path), work_dir=tmp_path / "out",
                             engine=engine).parts
    field = part.fields["uscc"]
    assert field["value"] == uscc
    assert "reread" in field["reasons"] and "note" in field
    assert "invalid_check_digit" not in part.reasons
    if "uscc_corrected" in field["reasons"]:
        # valid only after an OCR-confusion correction: a doubt, flagged for the reviewer
        assert field["confidence"] <= DOUBT_CAP and is_flagged(field)
    else:
        assert field["confidence"] >= 0.6


def test_code_that_no_reader_validates_holds_the_document_back(tmp_path: Path) -> None:
    path, uscc = _license(tmp_path)
    tesseract = TesseractEngine()
    engine = CascadeEngine(orientation=tesseract, text=_MisreadCode(tesseract, uscc),
                           readers=(_Garbage(),))
    (part,) = normalize_file(path, params=_params(tmp_path), work_dir=tmp_path / "out",
                             engine=engine).parts
    assert part.fields["uscc"]["value"] != uscc
    assert "invalid_check_digit" in part.reasons
    assert decide_status(part.reasons, policy="anomalies", is_new_version=False) != "archived"


def test_a_line_read_does_not_change_later_page_reads(rapid: RapidOcrEngine) -> None:
    sample = generate("id_card", seed=46)
    assert rapid.read_line(sample.image.crop((0, 0, 200, 60))) is not None
    text = rapid.recognize(sample.image, params=OcrParams(text_pdf=False)).text
    assert sample.truth["fields"]["id_number"] in text


@pytest.mark.parametrize(("letter", "reread"), [("V", True), ("V", False), ("S", False)])
def test_a_code_read_with_a_letter_no_code_has_is_reread_or_held_back(
    tmp_path: Path, letter: str, reread: bool
) -> None:
    path, uscc = _license(tmp_path)
    tesseract = TesseractEngine()
    misread = uscc[:8] + letter + uscc[9:]  # V and S are not in the USCC alphabet
    engine = CascadeEngine(orientation=tesseract, text=_MisreadCode(tesseract, uscc, misread),
                           readers=(tesseract,) if reread else (_Garbage(),))
    (part,) = normalize_file(path, params=_params(tmp_path), work_dir=tmp_path / "out",
                             engine=engine).parts
    field = part.fields["uscc"]
    if reread:
        assert field["value"] == uscc and "reread" in field["reasons"]
    elif letter == "S":  # S for 5 is a known confusion with exactly one valid reading
        assert field["value"] == uscc and "corrected_check_digit" in part.reasons
    else:
        assert field["value"] != uscc and "invalid_check_digit" in part.reasons
    if not reread:
        assert decide_status(part.reasons, policy="anomalies", is_new_version=False) != "archived"


def test_lines_read_without_detection_come_with_scores(rapid: RapidOcrEngine) -> None:
    sample = generate("id_card", seed=46)
    blank = Image.new("RGB", (200, 60), "white")
    cascade = make_ocr_engine("cascade")
    (text, score), (blank_text, _) = cascade.read_lines([sample.image.crop((0, 0, 400, 120)),
                                                         blank])
    assert isinstance(text, str) and 0.0 <= score <= 1.0 and not blank_text.strip()
    assert rapid.read_lines([]) == []
    # an engine without a line recognizer reads nothing, and says so with empty readings
    plain = CascadeEngine(orientation=TesseractEngine(), text=TesseractEngine(), readers=())
    assert plain.read_lines([blank]) == [("", 0.0)]
