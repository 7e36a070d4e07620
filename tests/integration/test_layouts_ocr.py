"""Issue 12 layouts through the real pipeline and OCR (default engine): the current license with
its code under the label beside a QR block, the ruled form with ``*`` labels, two pairs a row,
handwritten cells and tick boxes read from the image."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bench.samples import generate, write_sample
from config import load_settings
from ingest.ocr.base import code_region_below_label
from ingest.ocr.engines import shared_engine
from ingest.pipeline import NormalizedFile, PipelineParams, normalize_file
from models.validation import uscc_is_valid

TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> PipelineParams:
    home = tmp_path_factory.mktemp("home")
    return replace(PipelineParams.from_settings(load_settings(home=home)), today=TODAY)


def _run(
    tmp_path: Path, params: PipelineParams, kind: str, seed: int, degradation: tuple[str, ...] = ()
) -> tuple[dict, NormalizedFile]:
    sample = generate(kind, seed=seed, degradation=degradation)
    path = write_sample(sample, tmp_path / f"{kind}-{seed}.png")
    return sample.truth["fields"], normalize_file(path, params=params, work_dir=tmp_path / "out")


def _values(result: NormalizedFile) -> dict[str, object]:
    (part,) = result.parts
    return {k: v["value"] for k, v in part.fields.items()}


def test_license_with_its_code_under_the_label(tmp_path: Path, params: PipelineParams) -> None:
    truth, result = _run(tmp_path, params, "business_license_qr", 41, ("noise",))
    (part,) = result.parts
    got = _values(result)
    assert part.document_type == "business_license"
    for key in ("uscc", "name", "legal_representative", "address", "issue_date"):
        assert got[key] == truth[key], key
    assert got["established_date"] == truth["established"]
    # the registration date printed right after the address was cut off, and said so (a note
    # when the cut is plainly right, ingest/extract/confidence.py)
    assert {"trimmed_date", "trimmed_date_clean"} & set(part.fields["address"]["reasons"])
    assert not {"missing_field", "invalid_check_digit"} & set(part.reasons)


@pytest.mark.parametrize(
    ("seed", "degradation"), [(43, ("handwritten",)), (41, ("handwritten", "noise"))]
)
def test_ruled_form_by_hand_with_tick_boxes(
    tmp_path: Path, params: PipelineParams, seed: int, degradation: tuple[str, ...]
) -> None:
    truth, result = _run(tmp_path, params, "customer_form_cells", seed, degradation)
    got = _values(result)
    assert got["customer_type"] == truth["customer_type"]
    (page,) = result.page_results
    assert page.layout is not None
    ticks = dict(page.layout.ticks)  # read from the pixels, not the text
    assert ticks == {o: o == truth["customer_type"] for o in ("企业客户", "个人客户")}
    assert got["customer_name"] == truth["name"]
    assert got["contact_person"] == truth["contact"]
    assert got["phone"] == truth["phone"]
    assert got["uscc"] == truth["uscc"]  # None in an individual's empty cell
    assert got["id_number"] == truth["id_number"]


def test_the_code_region_under_its_label_rereads_the_code(params: PipelineParams) -> None:
    sample = generate("business_license_qr", seed=44)
    engine = shared_engine(params.ocr_engine)
    ocr = engine.recognize(sample.image, params=replace(params.ocr, text_pdf=False))
    region = code_region_below_label(
        ocr.words,
        "统一社会信用代码",
        image_width=sample.image.width,
        image_height=sample.image.height,
    )
    assert region is not None
    code = engine.reread_code(sample.image, region, validate=uscc_is_valid)  # type: ignore[attr-defined]
    assert code == sample.truth["fields"]["uscc"]


def test_a_short_value_the_detector_missed_is_read_from_its_cell(
    tmp_path: Path, params: PipelineParams
) -> None:
    # Seed 45: an individual's form whose name 马洋 (in two cells) RapidOCR's detector does not
    # find at all; the empty cells beside 客户名称 and 联系人 are read again from the image,
    # and the empty USCC and 法定代表人 cells (no ink) give nothing.
    truth, result = _run(tmp_path, params, "customer_form_cells", 45)
    got = _values(result)
    assert got["customer_name"] == got["contact_person"] == truth["name"] == "马洋"
    assert got["uscc"] is None and got["legal_representative"] is None
