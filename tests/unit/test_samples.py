"""The synthetic document generator: valid identifiers, determinism, degradations, file output."""

import logging
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from pypdf import PdfReader

from bench.samples import (
    _HAND_CANDIDATES,
    HAND_INK,
    KINDS,
    _cn_amount,
    _find_font,
    _missing_hand_font,
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


# Customer form geometry (300-dpi units, see bench.samples._customer_form): label column from
# x 180, value column from x 820, first row (客户名称) from y 420 to 570.
FORM_LABEL_BOX = (200, 440, 800, 550)
FORM_VALUE_BOX = (840, 440, 2200, 550)


def _ink(image: Image.Image, box: tuple[int, int, int, int], dpi: int) -> list[tuple[int, ...]]:
    """The dark (written or printed) pixels inside ``box`` (300-dpi units) of the page."""
    crop = image.convert("RGB").crop(tuple(round(v * dpi / 300) for v in box))
    return [px for px in crop.get_flattened_data() if sum(px) < 450]


def test_handwritten_form_values_are_blue_black_labels_stay_black() -> None:
    printed = generate("customer_form", seed=31, dpi=150)
    hand = generate("customer_form", seed=31, degradation="handwritten", dpi=150)
    values, labels = _ink(hand.image, FORM_VALUE_BOX, 150), _ink(hand.image, FORM_LABEL_BOX, 150)
    assert len(values) > 100 and len(labels) > 100
    darkest_values = sorted(values, key=sum)[: len(values) // 4]
    assert all(b - r > 40 for r, _, b in darkest_values)  # HAND_INK is (25, 35, 110)
    assert all(abs(b - r) < 12 for r, _, b in labels)
    assert _ink(hand.image, FORM_LABEL_BOX, 150) == _ink(printed.image, FORM_LABEL_BOX, 150)
    assert all(abs(b - r) < 12 for r, _, b in _ink(printed.image, FORM_VALUE_BOX, 150))
    # the same values, only drawn differently
    assert hand.truth["fields"] == printed.truth["fields"]
    assert hand.truth["lines"] == printed.truth["lines"]
    assert hand.truth["handwriting"]["ink"] == list(HAND_INK)
    assert "handwriting" not in printed.truth


def test_handwriting_uses_the_kai_font() -> None:
    # scripts/bootstrap.sh installs fonts-arphic-ukai; without it the samples fall back to print
    assert _find_font(_HAND_CANDIDATES) is not None, "run make bootstrap (fonts-arphic-ukai)"
    sample = generate("customer_form", seed=32, degradation="handwritten", dpi=100)
    assert sample.truth["handwriting"]["font"].startswith("AR PL UKai")


def test_missing_kai_font_is_reported_with_the_package_to_install(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert _find_font([("/nonexistent/ukai.ttc", 0)]) is None
    with caplog.at_level(logging.ERROR, logger="bench.samples"):
        _missing_hand_font.__wrapped__()
    assert "fonts-arphic-ukai" in caplog.text


def test_handwriting_is_jittered_per_seed_and_only_on_forms() -> None:
    a = generate("customer_form", seed=33, degradation=("handwritten", "noise"), dpi=100)
    b = generate("customer_form", seed=33, degradation=("handwritten", "noise"), dpi=100)
    assert a.image.tobytes() == b.image.tobytes() and a.truth == b.truth
    # two forms carrying the same text would still differ: the characters move per seed
    other = generate("customer_form", seed=34, degradation="handwritten", dpi=100)
    assert a.image.tobytes() != other.image.tobytes()
    with pytest.raises(ValueError, match="customer_form"):
        generate("contract", seed=1, degradation="handwritten")


@pytest.mark.parametrize("kind", KINDS)
def test_phone_photo_puts_the_page_on_a_darker_table(kind: str) -> None:
    scan = generate(kind, seed=31, dpi=60)
    photo = generate(kind, seed=31, degradation="phone_photo", dpi=60)
    assert photo.image.size == scan.image.size
    assert photo.image.info["dpi"] == (60, 60) and photo.truth["dpi"] == 60
    info = photo.truth["phone_photo"]
    assert info["jpeg_quality"] == 70 and len(info["corners"]) == 4
    w, h = photo.image.size
    grey = photo.image.convert("L")
    corner_means = [ImageStat.Stat(grey.crop((x, y, x + 3, y + 3))).mean[0]
                    for x, y in ((0, 0), (w - 3, 0), (w - 3, h - 3), (0, h - 3))]
    middle = sorted(grey.crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4)).tobytes())
    paper = middle[len(middle) * 9 // 10]  # mostly paper, some text
    assert max(corner_means) < 130 < paper  # table outside, paper inside (lit at >= 70 %)


def test_phone_photo_keystone_and_lighting_are_recorded_and_seeded(tmp_path: Path) -> None:
    a = generate("contract", seed=31, degradation="phone_photo", dpi=100)
    b = generate("contract", seed=31, degradation="phone_photo", dpi=100)
    c = generate("contract", seed=32, degradation="phone_photo", dpi=100)
    assert a.image.tobytes() == b.image.tobytes() and a.truth == b.truth
    assert a.truth["phone_photo"]["corners"] != c.truth["phone_photo"]["corners"]
    w, h = a.image.size
    info = a.truth["phone_photo"]
    for ix, iy in info["inset_fractions"]:
        assert 0.01 <= ix <= 0.05 and 0.01 <= iy <= 0.05
    (x0, y0), (x1, _), (_, y2), _ = info["corners"]
    assert 0.01 * w - 1 <= x0 <= 0.05 * w + 1 and 0.01 * h - 1 <= y0 <= 0.05 * h + 1
    assert x1 < w and y2 < h
    assert 0.7 <= info["lighting"]["darkest"] < 1.0
    for v, t in zip(a.image.getpixel((2, 2)), info["table_colour"], strict=True):
        assert 0.7 * t - 8 <= v <= t + 8  # the table, in light or shade
    assert a.truth["skew_degrees"] == 0.0 and a.truth["rotation"] == 0
    with Image.open(write_sample(a, tmp_path / "photo.png")) as written:
        assert tuple(round(v) for v in written.info["dpi"]) == (100, 100)
