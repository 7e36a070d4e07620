"""ID cards on a copied page: found, and OCR limited to them (real images, real OCR)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.samples import generate, write_sample
from config import load_settings
from ingest.cards import find_cards, isolate_cards
from ingest.ocr.layout import boxes_within
from ingest.pipeline import PipelineParams, normalize_file
from ingest.preprocess import normalize_mode, normalize_resolution

TODAY = date(2026, 11, 1)


def _page(kind: str, seed: int, degradation: tuple[str, ...] = ()) -> Image.Image:
    image = generate(kind, seed=seed, degradation=degradation).image
    return normalize_resolution(normalize_mode(image), target_dpi=300)


@pytest.mark.parametrize("degradation", [(), ("watermark",), ("watermark", "noise"),
                                         ("watermark", "blur"), ("fax",), ("jpeg",), ("lowres",)])
def test_both_sides_of_an_id_copy_are_found(degradation: tuple[str, ...]) -> None:
    cards = find_cards(_page("id_card", 61, degradation), dpi=300)
    assert len(cards) == 2
    (_, _, _, front_bottom), (_, back_top, _, _) = cards
    assert front_bottom < back_top  # front above back, in reading order
    for left, top, right, bottom in cards:
        assert (right - left) / (bottom - top) == pytest.approx(1.585, abs=0.12)  # ID-1
        assert 0.9 * 1011 <= right - left <= 1.5 * 1011  # 85.6 mm at 300 dpi, copies enlarged


@pytest.mark.parametrize("kind", ["business_license", "customer_form", "bank_permit", "contract"])
def test_other_documents_have_no_cards(kind: str) -> None:
    page = _page(kind, 62, ("noise",))
    assert isolate_cards(page, dpi=300).image is page


def test_only_the_cards_are_left_for_ocr() -> None:
    page = _page("id_card", 63, ("watermark",))
    result = isolate_cards(page, dpi=300)
    assert len(result.cards) == 2
    out, src = np.asarray(result.image.convert("L")), np.asarray(page.convert("L"))
    left, top, right, bottom = result.cards[0]
    assert np.array_equal(out[top:bottom, left:right], src[top:bottom, left:right])
    assert out[:top - 5, :].std() < 1.0  # above the front card the watermark is gone ...
    assert src[:top - 5, :].std() > 5  # ... that was there


def test_a_card_copied_onto_a_contract_keeps_the_contract_text() -> None:
    contract = _page("contract", 64)
    card = _page("id_card", 64)
    box = find_cards(card, dpi=300)[0]
    contract.paste(card.crop(box).resize((1000, 640)), (700, 2600))
    assert len(find_cards(contract, dpi=300)) == 1
    result = isolate_cards(contract, dpi=300)
    assert result.cards == () and result.image is contract


def test_boxes_within_regions() -> None:
    boxes = np.array([[[10, 10], [50, 10], [50, 20], [10, 20]],
                      [[300, 300], [400, 300], [400, 320], [300, 320]]], dtype=np.float32)
    kept = boxes_within(boxes, [(0, 0, 100, 100)])
    assert kept.shape == (1, 4, 2) and kept[0, 0, 0] == 10
    assert len(boxes_within(boxes, [(500, 500, 600, 600)])) == 0


@pytest.mark.parametrize("engine", ["tesseract", "cascade"])
def test_id_copy_through_the_pipeline_reads_inside_the_cards(tmp_path: Path, engine: str) -> None:
    sample = generate("id_card", seed=65, degradation=("watermark", "noise"))
    path = write_sample(sample, tmp_path / "身份证复印件.png")
    params = replace(PipelineParams.from_settings(load_settings(home=tmp_path / "home")),
                     today=TODAY, ocr_engine=engine)
    result = normalize_file(path, params=params, work_dir=tmp_path / "out")
    assert result.page_results[0].cards == 2
    (part,) = result.parts
    assert part.document_type == "id_card"
    assert part.fields["id_number"]["value"] == sample.truth["fields"]["id_number"]
    assert "仅供" not in part.text  # the watermark outside the cards was not read
    if engine == "cascade":  # tesseract still misreads the name under the watermark
        assert part.fields["name"]["value"] == sample.truth["fields"]["name"]
