"""ID cards photocopied onto a page: find the cards, keep only them for OCR.

A typical ID copy is an A4 sheet with the card's front and back as two small rounded rectangles,
often under a diagonal "仅供…使用" watermark that runs across the whole sheet. OCR engines read
the watermark between and around the cards as text; reading only inside the cards removes most
of it and spares the engine the empty rest of the page.

``find_cards`` looks for the cards' outlines: long horizontal and vertical strokes (a diagonal
watermark has none) that close into a rectangle of an ID-1 card's proportions (85.6 x 54 mm)
and about its size. ``isolate_cards`` paints everything outside the cards in the paper colour,
but only when the rest of the page holds no horizontal text lines: a contract with a copied
card on it keeps its text.

Pages stay the same size, so the OCR's word boxes and text layer need no translation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ingest.preprocess import paper_colour

log = logging.getLogger(__name__)

#: An ID-1 card (resident identity card, bank card) in millimetres.
CARD_MM = (85.6, 54.0)
#: Accepted card size against ID-1: copies are often enlarged (the generated ones by 1.23x).
CARD_SCALE = (0.8, 1.6)
#: Accepted long/short side ratio (ID-1: 1.585).
CARD_ASPECT = (1.4, 1.8)
#: Resolution the search runs at.
WORK_DPI = 100
#: Gap closed at the rounded corners, in millimetres.
CORNER_MM = 6.0
#: More horizontal text lines than this outside the cards: the page is not just an ID copy.
MAX_LINES_OUTSIDE = 1

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class CardPage:
    """The page for OCR and the cards found (empty: the page is used as it is)."""

    image: Image.Image
    cards: tuple[Box, ...] = ()


def find_cards(image: Image.Image, *, dpi: int) -> list[Box]:
    """Boxes (left, top, right, bottom, page pixels) of card outlines, top to bottom.

    The page should be upright and deskewed (``prepare_page``); a card turned by more than a
    few degrees is not found.
    """
    return _find_cards(*_work_grey(image, dpi))


def _find_cards(grey: np.ndarray, factor: float) -> list[Box]:
    import cv2  # noqa: PLC0415 - opencv comes with rapidocr; loaded only when a page is read

    mask = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                 15, 6)
    long_px, short_px = (mm / 25.4 * WORK_DPI for mm in CARD_MM)
    across = cv2.getStructuringElement(cv2.MORPH_RECT, (round(0.45 * long_px), 1))
    down = cv2.getStructuringElement(cv2.MORPH_RECT, (1, round(0.45 * short_px)))
    strokes = cv2.morphologyEx(mask, cv2.MORPH_OPEN, across) | cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, down)
    grow = max(3, round(CORNER_MM / 25.4 * WORK_DPI))
    rings = cv2.dilate(strokes, cv2.getStructuringElement(cv2.MORPH_RECT, (grow, grow)))
    contours, _ = cv2.findContours(rings, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cards = []
    for contour in contours:
        _, (w, h), _ = cv2.minAreaRect(contour)
        long_side, short_side = max(w, h) - grow, min(w, h) - grow  # without the growth
        if short_side <= 0 or not _card_like(long_side, short_side, long_px, short_px):
            continue
        x, y, bw, bh = cv2.boundingRect(contour)
        half = grow // 2
        box = (x + half, y + half, x + bw - half, y + bh - half)
        cards.append(tuple(round(v / factor) for v in box))
    cards.sort(key=lambda b: (b[1], b[0]))
    return cards


def _card_like(long_side: float, short_side: float, long_px: float, short_px: float) -> bool:
    low, high = CARD_SCALE
    return (low * long_px <= long_side <= high * long_px
            and low * short_px <= short_side <= high * short_px
            and CARD_ASPECT[0] <= long_side / short_side <= CARD_ASPECT[1])


def lines_outside(image: Image.Image, cards: list[Box], *, dpi: int) -> int:
    """Horizontal text lines on the page outside the given boxes.

    Characters are smeared sideways into line blobs; a blob counts when it lies along the page's
    axis, is long and thin like a line of text, and is at least 15 mm long. A diagonal
    watermark's blobs lie at an angle and do not count.
    """
    return _lines_outside(*_work_grey(image, dpi), cards)


def _lines_outside(grey: np.ndarray, factor: float, cards: list[Box]) -> int:
    import cv2  # noqa: PLC0415 - see _find_cards

    mask = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                 15, 10)
    pad = round(2 / 25.4 * WORK_DPI)  # the outline itself is not a text line
    for left, top, right, bottom in cards:
        mask[max(0, round(top * factor) - pad):round(bottom * factor) + pad + 1,
             max(0, round(left * factor) - pad):round(right * factor) + pad + 1] = 0
    smear = cv2.dilate(mask, cv2.getStructuringElement(
        cv2.MORPH_RECT, (max(3, round(2.5 / 25.4 * WORK_DPI)), 1)))
    contours, _ = cv2.findContours(smear, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_length = 15 / 25.4 * WORK_DPI
    count = 0
    for contour in contours:
        _, (w, h), angle = cv2.minAreaRect(contour)
        long_side, short_side = max(w, h), max(1.0, min(w, h))
        off_axis = min(angle % 90, 90 - angle % 90)
        if off_axis <= 3 and long_side >= min_length and long_side >= 5 * short_side:
            count += 1
    return count


def isolate_cards(image: Image.Image, *, dpi: int) -> CardPage:
    """The page with only its ID cards left for OCR, when it is an ID copy; else unchanged."""
    grey, factor = _work_grey(image, dpi)  # one grey copy for both searches
    cards = _find_cards(grey, factor)
    if not cards:
        return CardPage(image=image)
    outside = _lines_outside(grey, factor, cards)
    if outside > MAX_LINES_OUTSIDE:
        log.debug("%d card(s) found but %d text lines outside: page kept whole",
                  len(cards), outside)
        return CardPage(image=image)
    paper = paper_colour(image)
    keep = Image.new("L", image.size, 0)
    draw = ImageDraw.Draw(keep)
    for box in cards:
        draw.rectangle(box, fill=255)
    out = Image.composite(image, Image.new(image.mode, image.size, paper), keep)
    out.info["dpi"] = image.info.get("dpi", (dpi, dpi))
    log.debug("ID copy: OCR limited to %d card(s)", len(cards))
    return CardPage(image=out, cards=tuple(cards))


def _work_grey(image: Image.Image, dpi: int) -> tuple[np.ndarray, float]:
    """The page in grey at ``WORK_DPI``, and the scale from page pixels to it."""
    factor = WORK_DPI / max(1, dpi)
    grey = image.convert("L") if image.mode != "L" else image
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return np.asarray(grey.resize(size, Image.Resampling.BOX)), factor


__all__ = ["CardPage", "find_cards", "isolate_cards", "lines_outside"]
