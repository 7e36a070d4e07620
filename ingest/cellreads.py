"""Values the text detector did not see, read again from their cell.

RapidOCR's detector can miss a short, isolated value (a two-character name written in its
cell): no box, so neither the page text nor the geometry has it, and the field stays empty
although the value is printed. On a form (the types read geometry first), every label whose
own cell is empty and that has no value right of it on its row or under it
(:func:`ingest.extract.geometry.empty_labels`) gets its cell looked at in the image: from the
label's end to the next text on its row (or the page's edge), a text line and a bit above and
below. The ink there is taken in connected pieces, table rules and specks left out
(:func:`ink_region`); what is left is read by the engine's line recognizer alone (no
detection). A reading that scores at least :data:`MIN_SCORE` comes back as a
:class:`~ingest.ocr.base.Word` on a text line of its own, where the ink is, so the geometry
matches it to its label like any other box; an empty cell has no ink and costs no reading.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from ingest.classify import classify
from ingest.errors import OcrError
from ingest.extract.geometry import Box, Cell, cells_of, empty_labels
from ingest.extract.segments import clean, label_index
from ingest.extraction_rules import ExtractionRules, load_extraction_rules
from ingest.ocr.base import Word

log = logging.getLogger("dossier.ingest")

#: A re-read scoring below this (the recognizer's own 0..1 score) is not taken.
MIN_SCORE = 0.8
#: The region reaches this many label heights above and below the label.
REACH_HEIGHTS = 0.9
#: A connected piece of ink longer than this many label heights is a table rule, no writing.
RULE_HEIGHTS = 1.8
#: A piece of ink smaller than this share of a label height squared is a speck.
SPECK = 0.003
#: Least area of the pieces' boxes, in label heights squared, for a cell to hold a value.
MIN_INK = 0.08
_DARK = 140  # grey level under which a pixel is ink (blue handwriting included)
#: The block number of re-read words' lines (the engine's own lines are block 0).
REREAD_BLOCK = 1

#: ``read(crops) -> [(text, score)]``: an engine's line recognizer (no detection).
LineReader = Callable[[Sequence[Image.Image]], list[tuple[str, float]]]


def reread_cells(
    image: Image.Image,
    text: str,
    boxes: Sequence[Box],
    *,
    read: LineReader | None,
    rules: ExtractionRules | None = None,
) -> tuple[Word, ...]:
    """Words read from the cells of labels whose value the page's OCR did not find.

    Args:
        image: The page the boxes were read from (same pixels).
        text: The page's OCR text (classified here: only types read geometry first).
        boxes: The page's OCR boxes (:func:`ingest.extract.geometry.boxes_from_words`).
        read: The engine's line recognizer; None (an engine without one): nothing is read.
        rules: Extraction rules; defaults to the bundled config/understanding.toml.

    Returns:
        One word per cell read with a score of at least :data:`MIN_SCORE`.
    """
    rules = rules or load_extraction_rules()
    doc_type = classify(text).document_type
    if read is None or not boxes or doc_type not in rules.geometry_first:
        return ()
    type_rules = rules.fields.get(doc_type, ())
    pattern, by_label = label_index(type_rules, rules.stops.get(doc_type, ()))
    cells = cells_of(boxes, pattern, by_label)
    grey = np.asarray(image.convert("L"))
    regions = []
    for label in empty_labels(type_rules, cells):
        found = ink_region(grey, label, cells)
        if found is not None:
            regions.append(found)
    if not regions:
        return ()
    try:
        readings = read([image.crop(r) for r in regions])
    except OcrError as e:  # a second look, not a stage that may fail the page
        log.warning("cell re-read failed: %s", e)
        return ()
    words = []
    for n, (region, (raw, score)) in enumerate(zip(regions, readings, strict=True)):
        value = clean(unicodedata.normalize("NFKC", raw).replace(" ", ""))
        log.debug("cell re-read %s: %d characters, score %.2f", region, len(value), score)
        if value and score >= MIN_SCORE:
            left, top, right, bottom = region
            words.append(
                Word(
                    value,
                    round(100 * score, 2),
                    left,
                    top,
                    right - left,
                    bottom - top,
                    (REREAD_BLOCK, 0, n),
                )
            )
    return tuple(words)


def ink_region(
    grey: np.ndarray, label: Cell, cells: Sequence[Cell]
) -> tuple[int, int, int, int] | None:
    """Where the ink of ``label``'s value cell lies (padded), or None when the cell is blank.

    The ink is taken in connected pieces: a piece longer than :data:`RULE_HEIGHTS` label
    heights (a table rule, even a slightly tilted one, and anything touching it) is left out,
    so is a speck, and so is a piece centred more than :data:`REACH_HEIGHTS` heights off the
    label's middle (the rows above and below reach into the region).
    """
    import cv2  # noqa: PLC0415 - RapidOCR's dependency; loaded only when a cell is looked at

    h = label.height
    left = label.value_left + h // 4
    ahead = [c.left for c in cells if c is not label and c.left > left and _same_row(label, c)]
    right = min(ahead, default=grey.shape[1]) - h // 4
    top = max(0, round(label.top - REACH_HEIGHTS * h))
    bottom = min(grey.shape[0], round(label.bottom + REACH_HEIGHTS * h))
    if right - left < h or bottom - top < h:
        return None
    ink = (grey[top:bottom, left:right] < _DARK).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    middle = label.middle - top
    kept = [
        (x, y, x + w, y + hh)
        for x, y, w, hh, area in stats[1:].tolist()
        if max(w, hh) <= RULE_HEIGHTS * h
        and area >= SPECK * h * h
        and abs(y + hh / 2 - middle) <= REACH_HEIGHTS * h
    ]
    if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in kept) < MIN_INK * h * h:
        return None
    pad = max(2, h // 5)
    return (
        max(0, left + min(k[0] for k in kept) - pad),
        max(0, top + min(k[1] for k in kept) - pad),
        min(grey.shape[1], left + max(k[2] for k in kept) + pad),
        min(grey.shape[0], top + max(k[3] for k in kept) + pad),
    )


def _same_row(label: Cell, cell: Cell) -> bool:
    return abs(cell.middle - label.middle) <= 0.7 * max(label.height, cell.height)
