"""Phone photos: the sheet is found on the desk, cut out and flattened; scans are left alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from bench.samples import generate, write_sample
from config import load_settings
from ingest.photo import find_sheet, flatten_photo
from ingest.pipeline import PipelineParams, normalize_file

TODAY = date(2026, 11, 1)


def _photograph(page: Image.Image, corners: list[tuple[float, float]], *,
                light: tuple[float, float] = (0.7, 1.0)) -> tuple[Image.Image, np.ndarray]:
    """The page on a dark desk at an angle, lit from one side; and where its corners went."""
    array = np.asarray(page.convert("RGB"))
    h, w = array.shape[:2]
    width, height = round(w * 1.15), round(h * 1.15)
    target = np.float32([[x * width, y * height] for x, y in corners])
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), target)
    photo = cv2.warpPerspective(array, matrix, (width, height), borderValue=(70, 60, 50))
    gradient = np.linspace(*light, width, dtype=np.float32)[None, :, None]
    return Image.fromarray((photo * gradient).astype(np.uint8)), target


KEYSTONE = [(0.09, 0.08), (0.93, 0.05), (0.96, 0.92), (0.05, 0.95)]


def test_the_sheet_is_found_where_it_lies() -> None:
    photo, corners = _photograph(generate("business_license", seed=71).image, KEYSTONE)
    found = find_sheet(photo)
    assert found is not None
    assert np.abs(found - corners).max() < 0.01 * max(photo.size)


def test_the_sheet_comes_out_rectangular_and_evenly_lit() -> None:
    page = generate("customer_form", seed=72).image
    photo, _ = _photograph(page, KEYSTONE, light=(0.6, 1.0))
    flat, done = flatten_photo(photo)
    assert done
    assert flat.width / flat.height == pytest.approx(page.width / page.height, rel=0.05)
    grey = np.asarray(flat.convert("L"))
    left, right = grey[:, : grey.shape[1] // 10], grey[:, -grey.shape[1] // 10:]
    # paper as bright on the dim side as on the lit side (the photo differed by 40%)
    assert np.percentile(left, 90) == pytest.approx(np.percentile(right, 90), abs=12)


@pytest.mark.parametrize("kind", ["business_license", "id_card", "bank_permit", "contract"])
def test_scans_are_left_alone(kind: str) -> None:
    scan = generate(kind, seed=73, degradation="noise").image
    flat, done = flatten_photo(scan)
    assert not done and flat is scan


def test_a_page_whose_lower_half_is_dark_is_not_cut() -> None:
    page = generate("contract", seed=74).image.convert("RGB")
    ImageDraw.Draw(page).rectangle((0, page.height // 2, page.width, page.height), fill=(20,) * 3)
    assert find_sheet(page) is None


def test_tiny_images_have_no_sheet() -> None:
    assert find_sheet(Image.new("RGB", (10, 10), (255, 255, 255))) is None


@pytest.mark.parametrize("engine", ["tesseract", "cascade"])
def test_a_phone_photo_through_the_pipeline(tmp_path: Path, engine: str) -> None:
    sample = generate("business_license", seed=75)
    photo, _ = _photograph(sample.image, KEYSTONE)
    path = write_sample(replace(sample, image=photo), tmp_path / "执照照片.jpg")
    params = replace(PipelineParams.from_settings(load_settings(home=tmp_path / "home")),
                     today=TODAY, ocr_engine=engine)
    result = normalize_file(path, params=params, work_dir=tmp_path / "out")
    assert result.page_results[0].photo
    (part,) = result.parts
    assert part.document_type == "business_license"
    assert part.fields["uscc"]["value"] == sample.truth["fields"]["uscc"]
    assert part.fields["name"]["value"] == sample.truth["fields"]["name"]
