"""Tick boxes read from the page image, not from the text.

OCR reads a tick box as ``□``, ``口``, ``☑``, a stray letter or nothing at all, so the text cannot
say which option of ``□ 企业客户 ☑ 个人客户`` is chosen. Here each option printed on the page
is found in the OCR words; beside it (left of its text, or at the start of the text's box
when OCR read the box as nothing) a box-shaped mark, about as high as the text with its four
sides inked, is looked for in the image; the box is *ticked* when its inside holds ink (a tick,
a cross, a filled square), *empty* when the inside is blank. An option without such a box
beside it is not reported (the text decides then).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image

from ingest.extract.geometry import Box

#: Where the box is looked for: from this many text heights left of the option's first
#: character to this many right of it; the box nearest that character is taken.
SEARCH_HEIGHTS, AHEAD_HEIGHTS = 2.4, 1.3
#: A box is between these fractions of the text height, roughly square.
BOX_MIN, BOX_MAX, BOX_ASPECT = 0.45, 1.6, 1.5
#: Each side of a box: at least this share of its length inked.
SIDE_INKED = 0.6
#: Inside a ticked box (the border's inner 60 %): at least this share of pixels inked.
TICKED_INK = 0.06
_DARK = 128  # grey level under which a pixel is ink


def option_spans(boxes: Sequence[Box], options: Iterable[str]) -> list[tuple[str, Box, int]]:
    """Each printed option: ``(option, its box, x where the option's text starts)``."""
    found = []
    for option in dict.fromkeys(options):
        for box in boxes:
            at = box.text.find(option)
            if at >= 0:
                found.append((option, box, box.x_at(at)))
    return found


def read_ticks(
    image: Image.Image, boxes: Sequence[Box], options: Iterable[str]
) -> tuple[tuple[str, bool], ...]:
    """``(option, ticked)`` for every option printed with a tick box beside it.

    Args:
        image: The page the boxes were read from (same pixels).
        boxes: The page's OCR boxes (:func:`ingest.extract.geometry.boxes_from_words`).
        options: The option texts to look for (``企业客户``, ``个人客户``).
    """
    grey = None
    out: dict[str, bool] = {}
    for option, box, start in option_spans(boxes, options):
        if grey is None:
            grey = np.asarray(image.convert("L"))
        ticked = _tick_left_of(grey, start=start, top=box.top, bottom=box.bottom)
        if ticked is not None:
            out[option] = out.get(option, False) or ticked
    return tuple(out.items())


def _tick_left_of(grey: np.ndarray, *, start: int, top: int, bottom: int) -> bool | None:
    """Whether the box beside the option starting at ``start`` is ticked; None: no box."""
    h = max(1, bottom - top)
    left = max(0, round(start - SEARCH_HEIGHTS * h))
    y0, y1 = max(0, round(top - 0.4 * h)), min(grey.shape[0], round(bottom + 0.4 * h))
    # OCR may leave the box out of the text yet inside the text's box: then the option's text
    # seems to start at the box, which lies just right of ``start``.
    right = min(grey.shape[1], round(start + AHEAD_HEIGHTS * h))
    if right - left < 4 or y1 - y0 < 4:
        return None
    ink = grey[y0:y1, left:right] < _DARK
    ink[ink.mean(axis=1) > 0.8] = False  # a table rule crossing the search area is no box
    found = []
    at = start - left
    for x0, x1 in _runs(ink.any(axis=0)):
        rows = np.flatnonzero(ink[:, x0:x1].any(axis=1))
        box = ink[rows[0] : rows[-1] + 1, x0:x1] if len(rows) else None
        if box is not None and _box_shaped(box, h):
            found.append((0 if x0 <= at <= x1 else min(abs(x0 - at), abs(x1 - at)), box))
    if not found:
        return None
    best = min(found, key=lambda f: f[0])[1]
    bh, bw = best.shape
    inner = best[round(0.2 * bh) : round(0.8 * bh), round(0.2 * bw) : round(0.8 * bw)]
    return bool(inner.size) and float(inner.mean()) >= TICKED_INK


def _runs(columns: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive True columns, as ``(start, end)`` pairs left to right."""
    runs, start = [], None
    for x, on in enumerate(columns.tolist() + [False]):
        if on and start is None:
            start = x
        elif not on and start is not None:
            runs.append((start, x))
            start = None
    return runs


def _box_shaped(box: np.ndarray, h: int) -> bool:
    """About the text's height, roughly square, all four sides inked."""
    bh, bw = box.shape
    if not (BOX_MIN * h <= bh <= BOX_MAX * h and BOX_MIN * h <= bw <= BOX_MAX * h):
        return False
    if max(bh, bw) > BOX_ASPECT * min(bh, bw):
        return False
    band_y, band_x = max(1, bh // 8), max(1, bw // 8)
    sides = (
        box[:band_y].any(axis=0),
        box[-band_y:].any(axis=0),
        box[:, :band_x].any(axis=1),
        box[:, -band_x:].any(axis=1),
    )
    return all(float(side.mean()) >= SIDE_INKED for side in sides)
