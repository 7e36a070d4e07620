"""The synthetic document generator: valid identifiers, determinism, degradations, file output."""

from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from bench.samples import (
    KINDS,
    _cn_amount,
    generate,
    id_check_digit,
    uscc_check_char,
    write_sample,
)


def test_check_characters_match_published_examples() -> None:
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert id_check_digit("11010519491231002") == "X"


@pytest.mark.parametrize(
    ("value", "text"),
    [(1957000, "壹佰玖拾伍万柒仟元整"), (10050, "壹万零伍拾元整"), (120000000, "壹亿贰仟万元整")],
)
def test_uppercase_amounts(value: int, text: str) -> None:
    assert _cn_amount(value) == text


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_an_a4_page_with_dpi(kind: str) -> None:
    sample = generate(kind, seed=11, dpi=100)
    w, h = sorted(sample.image.size)
    assert (w, h) == (827, 1169)
    assert sample.image.info["dpi"] == (100, 100)
    assert sample.truth["kind"] == kind
    assert sample.truth["is_blank"] == (kind == "blank")
    assert bool(sample.truth["lines"]) == (kind != "blank")


@pytest.mark.parametrize("seed", range(5))
def test_license_carries_a_valid_uscc(seed: int) -> None:
    uscc = generate("business_license", seed=seed, dpi=100).truth["fields"]["uscc"]
    assert len(uscc) == 18
    assert uscc_check_char(uscc[:17]) == uscc[17]
    assert any(uscc in line for line in generate("business_license", seed=seed, dpi=100)
               .truth["lines"])


@pytest.mark.parametrize("seed", range(5))
def test_id_number_is_valid_and_matches_birth_date_and_gender(seed: int) -> None:
    fields = generate("id_card", seed=seed, dpi=100).truth["fields"]
    number = fields["id_number"]
    assert id_check_digit(number[:17]) == number[17]
    assert date.fromisoformat(fields["birth_date"]).strftime("%Y%m%d") == number[6:14]
    assert (int(number[16]) % 2 == 1) == (fields["gender"] == "男")


def test_same_seed_same_pixels_other_seed_other_content() -> None:
    a = generate("contract", seed=3, degradation=("noise", "skew"), dpi=100)
    b = generate("contract", seed=3, degradation=("noise", "skew"), dpi=100)
    c = generate("contract", seed=4, degradation=("noise", "skew"), dpi=100)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.truth == b.truth
    assert a.truth["fields"] != c.truth["fields"]


@pytest.mark.parametrize(("name", "angle"), [("rotate90", 90), ("rotate180", 180),
                                             ("rotate270", 270)])
def test_rotation_is_recorded(name: str, angle: int) -> None:
    sample = generate("customer_form", seed=1, degradation=name, dpi=100)
    assert sample.truth["rotation"] == angle
    assert sample.image.size == ((1169, 827) if angle != 180 else (827, 1169))


def test_skew_lowres_and_fax() -> None:
    skewed = generate("contract", seed=2, degradation="skew", dpi=100)
    skew = abs(skewed.truth["skew_degrees"])
    assert skew >= 1.5 and skew <= 6.0
    low = generate("contract", seed=2, degradation="lowres", dpi=300)
    assert low.truth["dpi"] == 150
    assert low.image.info["dpi"] == (150, 150)
    assert low.image.size == (1240, 1754)
    assert generate("contract", seed=2, degradation="fax", dpi=100).image.mode == "1"


def test_watermark_and_show_through_change_pixels() -> None:
    plain = generate("blank", seed=5, dpi=100).image
    through = generate("blank", seed=5, degradation="show_through", dpi=100).image
    assert through.convert("L").getextrema()[0] < plain.convert("L").getextrema()[0]
    marked = generate("id_card", seed=5, degradation="watermark", dpi=100)
    assert marked.truth["watermark"].startswith("仅供")


def test_unknown_kind_or_degradation_is_refused() -> None:
    with pytest.raises(ValueError):
        generate("passport", seed=1)
    with pytest.raises(ValueError):
        generate("contract", seed=1, degradation="coffee_stain")


@pytest.mark.parametrize("fmt", ["jpeg", "png", "tiff", "bmp", "webp", "pdf"])
def test_write_single_page_formats(tmp_path: Path, fmt: str) -> None:
    sample = generate("bank_permit", seed=1, dpi=100)
    path = write_sample(sample, tmp_path / f"permit.{fmt}")
    if fmt == "pdf":
        assert len(PdfReader(path).pages) == 1
    else:
        with Image.open(path) as im:
            assert im.format == fmt.upper()
            assert im.size == sample.image.size


def test_write_multi_page_tiff_and_pdf(tmp_path: Path) -> None:
    pages = [generate("contract", seed=1, dpi=100),
             generate("blank", seed=1, degradation="fax", dpi=100),
             generate("business_license", seed=1, dpi=100)]
    with Image.open(write_sample(pages, tmp_path / "scan.tif")) as im:
        assert im.n_frames == 3
    reader = PdfReader(write_sample(pages, tmp_path / "scan.pdf"))
    assert len(reader.pages) == 3
    # page size follows the dpi: A4 at 100 dpi is 595 x 842 points
    assert abs(float(reader.pages[0].mediabox.width) - 595.4) < 2
    with pytest.raises(ValueError):
        write_sample(pages, tmp_path / "scan.png")
