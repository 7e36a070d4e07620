"""Page clean-up with real tesseract OSD on generated pages: rotation, skew, blank, resolution."""

import pytest
from PIL import Image

from bench.samples import generate
from ingest.errors import ProcessingTimeoutError
from ingest.ocr.base import OcrParams, OcrResult, Orientation
from ingest.ocr.tesseract import TesseractEngine
from ingest.preprocess import (
    estimate_skew,
    normalize_mode,
    normalize_resolution,
    page_dpi,
    prepare_page,
)


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine()


class TimingOutEngine:
    """A real seam: an engine whose orientation detection times out."""

    name = "timing-out"

    def osd(self, image: Image.Image) -> Orientation:
        raise ProcessingTimeoutError("文字识别超时")

    def recognize(self, image: Image.Image, *, params: OcrParams) -> OcrResult:
        raise AssertionError("not used")


@pytest.mark.parametrize(("kind", "degradation"), [
    ("customer_form", "rotate90"),
    ("bank_permit", "rotate180"),
    ("contract", ("rotate270", "noise")),
])
def test_orientation_is_fixed(engine, kind, degradation) -> None:
    sample = generate(kind, seed=7, degradation=degradation)
    page = prepare_page(sample.image, engine=engine)
    assert page.rotated_by == sample.truth["rotation"]
    assert page.image.width < page.image.height  # these kinds are portrait when upright
    assert page.orientation_confidence >= 1.0
    assert not page.is_blank


def test_skew_is_corrected(engine) -> None:
    sample = generate("contract", seed=8, degradation=("skew", "noise"))
    page = prepare_page(sample.image, engine=engine)
    assert abs(sample.truth["skew_degrees"]) >= 1.5
    assert page.skew_degrees == pytest.approx(sample.truth["skew_degrees"], abs=0.4)
    assert abs(estimate_skew(page.image)) <= 0.4  # straight now
    assert page.image.size == sample.image.size


def test_straight_landscape_page_is_left_alone(engine) -> None:
    sample = generate("business_license", seed=8)
    page = prepare_page(sample.image, engine=engine)
    assert (page.rotated_by, page.skew_degrees, page.is_blank) == (0, 0.0, False)
    assert page.image.size == sample.image.size


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("degradation", [None, "show_through", ("show_through", "noise", "jpeg"),
                                         ("show_through", "blur", "lowres"),
                                         ("show_through", "fax")])
def test_blank_pages_are_blank(degradation, seed) -> None:
    sample = generate("blank", seed=seed, degradation=degradation)
    page = prepare_page(sample.image, engine=TimingOutEngine())  # OSD must not even run
    assert page.is_blank
    assert page.rotated_by == 0


@pytest.mark.parametrize("degradation", [None, ("noise", "blur"), "fax", "lowres"])
def test_sparse_id_card_back_is_not_blank(engine, degradation) -> None:
    sample = generate("id_card_back", seed=3, degradation=degradation)
    page = prepare_page(sample.image, engine=engine)
    assert not page.is_blank
    assert page.ink_ratio > 0.003


def test_low_resolution_scan_is_upscaled(engine) -> None:
    sample = generate("customer_form", seed=2, degradation="lowres")
    assert sample.image.info["dpi"] == (150, 150)
    page = prepare_page(sample.image, engine=engine)
    assert page.dpi == 300
    assert page.image.info["dpi"] == (300, 300)
    assert abs(page.image.width - 2 * sample.image.width) <= 2


def test_bilevel_fax_stays_bilevel(engine) -> None:
    page = prepare_page(generate("contract", seed=2, degradation="fax").image, engine=engine)
    assert page.image.mode == "1"
    assert not page.is_blank


def test_osd_failure_propagates_as_our_error() -> None:
    with pytest.raises(ProcessingTimeoutError):
        prepare_page(generate("contract", seed=1).image, engine=TimingOutEngine())


# Pure helpers (no tesseract) -----------------------------------------------------------------


def test_dpi_is_trusted_only_when_plausible() -> None:
    scan = Image.new("L", (2480, 3508))
    scan.info["dpi"] = (300, 300)
    assert page_dpi(scan) == 300
    photo = Image.new("RGB", (3000, 4000))
    photo.info["dpi"] = (72, 72)  # phones say 72: that would be a 55-inch page
    assert page_dpi(photo) == pytest.approx(4000 / 11.69)
    assert page_dpi(Image.new("L", (1240, 1754))) == pytest.approx(150, abs=1)
    resized = normalize_resolution(photo, target_dpi=300)
    assert resized.size[1] == pytest.approx(3507, abs=2)


@pytest.mark.parametrize(("mode", "expected"), [("RGBA", "RGB"), ("LA", "RGB"), ("P", "RGB"),
                                                ("CMYK", "RGB"), ("I;16", "L"), ("1", "L"),
                                                ("L", "L")])
def test_modes_are_normalized(mode: str, expected: str) -> None:
    image = Image.new(mode, (40, 30))
    image.info["dpi"] = (200, 200)
    out = normalize_mode(image)
    assert out.mode == expected
    assert out.info["dpi"] == (200, 200)


def test_transparent_areas_become_white_paper() -> None:
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert normalize_mode(image).getpixel((5, 5)) == (255, 255, 255)


def test_seal_ink_is_lifted_for_reading_and_kept_for_the_pdf(engine: TesseractEngine) -> None:
    """A license's seal stamped over its name line: what the engines read has no red left and
    the black print under the seal intact; the page for the PDF keeps the seal."""
    page = prepare_page(generate("business_license", seed=11,
                                 degradation=("seal_over_text",)).image, engine=engine)
    assert page.ocr_image is not None and page.ocr_image is not page.image

    def counts(image: Image.Image) -> tuple[int, int]:
        pixels = image.convert("RGB").get_flattened_data()
        red = sum(1 for r, g, b in pixels if r - max(g, b) >= 60)
        black = sum(1 for r, g, b in pixels if max(r, g, b) < 80)
        return red, black

    red_before, black_before = counts(page.image)
    red_after, black_after = counts(page.ocr_image)
    assert red_before > 10_000 and red_after == 0
    assert black_after >= 0.98 * black_before  # the print under the seal stays


def test_a_page_without_red_ink_is_read_as_it_is(engine: TesseractEngine) -> None:
    colour = prepare_page(generate("customer_form", seed=11).image, engine=engine)
    grey = prepare_page(generate("id_card", seed=11).image.convert("L"), engine=engine)
    assert colour.image.mode == "RGB" and colour.ocr_image is colour.image
    assert grey.ocr_image is grey.image
