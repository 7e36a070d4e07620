"""The PDF text layer's font: found once in tesseract's data or set, a clear error otherwise."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from config import load_settings
from config.errors import ErrorCode
from ingest.errors import OcrError
from ingest.ocr.layout import Piece
from ingest.ocr.tesseract import tessdata_dir
from ingest.ocr.textlayer import FONT_NAME, text_layer_font, text_layer_pdf
from ingest.pipeline import PipelineParams


def _installed_font() -> Path:
    folder = tessdata_dir()
    assert folder is not None, "tesseract does not report its data folder"
    return folder / FONT_NAME


def test_the_default_font_is_tesseracts_glyphless_font() -> None:
    assert text_layer_font() == _installed_font().read_bytes()


def test_a_configured_font_is_used_and_reaches_the_ocr_params(tmp_path: Path) -> None:
    font = tmp_path / "fonts" / "layer.ttf"
    font.parent.mkdir()
    shutil.copyfile(_installed_font(), font)
    settings = load_settings(home=tmp_path / "home", ocr_text_layer_font=font)
    params = PipelineParams.from_settings(settings)
    assert params.ocr.text_layer_font == str(font)
    data = text_layer_font(params.ocr.text_layer_font)
    layer = text_layer_pdf([Piece("营业执照91330", 0.9, 10, 10, 400, 60)], size=(800, 600),
                           dpi=300, font=data)
    assert "营业执照91330" in PdfReader(io.BytesIO(layer)).pages[0].extract_text().replace(" ", "")


def test_a_missing_configured_font_is_a_clear_ocr_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.ttf"
    with pytest.raises(OcrError) as info:
        text_layer_font(str(missing))
    assert info.value.code == ErrorCode.OCR_FAILED
    assert str(missing) in info.value.message
    assert "无法读取" in info.value.message


def test_a_configured_font_that_is_not_truetype_is_refused(tmp_path: Path) -> None:
    collection = tmp_path / "cjk.ttc"
    collection.write_bytes(b"ttcf" + bytes(64))  # a font collection cannot be embedded as is
    with pytest.raises(OcrError) as info:
        text_layer_font(str(collection))
    assert "不是 TrueType" in info.value.message
