"""Moving text boxes found on the orientation copy onto the prepared page (no OCR here).

The point maps must agree with what ingest.preprocess really does to the pixels: a dark
square is drawn, the image turned by the real functions, and the square found again.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from ingest.ocr.base import Orientation
from ingest.ocr.layout import clockwise_from_top_left, reuse_boxes, rotate_points, turn_points
from ingest.preprocess import rotate_small, rotate_upright

SIZE = (400, 300)


def _marked(x: int, y: int) -> Image.Image:
    image = Image.new("L", SIZE, 255)
    ImageDraw.Draw(image).rectangle((x - 3, y - 3, x + 3, y + 3), fill=0)
    return image


def _centre_of_ink(image: Image.Image) -> tuple[float, float]:
    ys, xs = np.nonzero(np.asarray(image) < 128)
    return float(xs.mean()), float(ys.mean())


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
@pytest.mark.parametrize("point", [(40, 30), (350, 60), (200, 250)])
def test_turn_points_follows_rotate_upright(turn: int, point: tuple[int, int]) -> None:
    turned = rotate_upright(_marked(*point), Orientation(angle=turn, confidence=10))
    moved = turn_points(np.array([point], dtype=np.float32), size=SIZE, turn=turn)[0]
    assert moved == pytest.approx(_centre_of_ink(turned), abs=1.5)


@pytest.mark.parametrize("degrees", [-7.5, -1.2, 0.4, 3.0, 9.9])
@pytest.mark.parametrize("point", [(40, 30), (350, 60), (200, 250)])
def test_rotate_points_follows_rotate_small(degrees: float, point: tuple[int, int]) -> None:
    turned = rotate_small(_marked(*point), degrees)
    moved = rotate_points(np.array([point], dtype=np.float32), size=SIZE, degrees=degrees)[0]
    assert moved == pytest.approx(_centre_of_ink(turned), abs=1.5)


@given(st.permutations(range(4)), st.floats(-30, 30), st.floats(20, 400), st.floats(8, 60))
def test_corners_come_back_in_reading_order(order: list[int], tilt: float, width: float,
                                            height: float) -> None:
    a = np.radians(tilt)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    upright = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=float)
    box = (upright @ rot.T + 500).astype(np.float32)
    ordered = clockwise_from_top_left(box[list(order)])
    if abs(tilt) < 45:  # beyond that "top-left" is a matter of taste
        assert np.allclose(ordered, box, atol=1e-3)
    assert sorted(map(tuple, ordered.round(3))) == sorted(map(tuple, box.round(3)))


def test_reuse_scales_turns_and_reorders() -> None:
    copy = (175, 124)  # 150 dpi copy of a 300 dpi landscape page lying upside down
    box = np.array([[[10, 20], [110, 20], [110, 26], [10, 26]]], dtype=np.float32)  # wide
    page = (350, 248)
    (moved,) = reuse_boxes((copy, box), page, (180, 0.0))
    # x 20..220, y 40..52 on the page -> after the half turn x 130..330, y 196..208
    assert moved[0] == pytest.approx((350 - 220, 248 - 52), abs=2)  # top-left
    assert moved[2] == pytest.approx((350 - 20, 248 - 40), abs=2)  # bottom-right


def test_a_page_that_lay_on_its_side_is_detected_again() -> None:
    box = np.array([[[10, 20], [14, 20], [14, 120], [10, 120]]], dtype=np.float32)
    assert reuse_boxes(((124, 175), box), (350, 248), (90, 0.0)) is None
    assert reuse_boxes(((124, 175), box), (350, 248), (270, 0.0)) is None


def test_reuse_refuses_a_page_of_another_shape() -> None:
    box = np.zeros((1, 4, 2), dtype=np.float32)
    assert reuse_boxes(((124, 175), box), (300, 300), (0, 0.0)) is None
