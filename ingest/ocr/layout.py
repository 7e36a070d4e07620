"""Where text sits on a page: RapidOCR's pieces turned into reading order and words.

* :func:`drop_watermark` drops a diagonal watermark's pieces (``仅供…使用`` repeated across the
  page at an angle);
* :func:`order_lines` orders the rest by layout: pieces are grouped into lines by vertical
  overlap, lines go top to bottom, pieces left to right; a wide horizontal gap splits a line into
  segments, and the segments of a two-column page are emitted column by column so a license's
  left and right columns are never mixed into one line;
* :func:`split_piece` splits each piece into words at script changes
  (``统一社会信用代码91330…`` -> label + code) with proportional boxes, so
  :func:`ingest.ocr.base.code_region_after_label` finds a value region;
* box geometry (:func:`turn_points`, :func:`rotate_points`, :func:`reuse_boxes`) moves boxes
  found on the orientation copy onto the prepared page.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ingest.ocr.base import Word

#: A piece tilted more than this (degrees) is not a normal text line.
WATERMARK_MIN_ANGLE = 12.0
#: Tilted pieces whose text repeats (as a substring of another tilted piece) this often or more.
WATERMARK_MIN_REPEATS = 2
#: A horizontal gap wider than this many line heights splits a line into two segments.
COLUMN_GAP_HEIGHTS = 2.2
_WATERMARK_WORDS = re.compile(r"^(仅供|仅限|仅用于|.*(使用|备案|复印无效)$)")


@dataclass(frozen=True)
class Piece:
    """One text piece as RapidOCR found it: text, score (0..1), axis-aligned box, tilt."""

    text: str
    score: float
    left: int
    top: int
    right: int
    bottom: int
    angle: float = 0.0  # degrees of the box's top edge against the horizontal

    @property
    def height(self) -> int:
        return max(1, self.bottom - self.top)

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2



# ---------------------------------------------------------------------------------------------
# Moving boxes onto the turned page
# ---------------------------------------------------------------------------------------------


def turn_points(points: np.ndarray, *, size: tuple[int, int], turn: int) -> np.ndarray:
    """Points on a ``size`` image after :func:`ingest.preprocess.rotate_upright` by ``turn``."""
    width, height = size
    x, y = points[..., 0], points[..., 1]
    if turn % 360 == 90:
        moved = (height - y, x)
    elif turn % 360 == 180:
        moved = (width - x, height - y)
    elif turn % 360 == 270:
        moved = (y, width - x)
    else:
        return points.copy()
    return np.stack(moved, axis=-1).astype(np.float32)


def rotate_points(points: np.ndarray, *, size: tuple[int, int], degrees: float) -> np.ndarray:
    """Points after :func:`ingest.preprocess.rotate_small` (counter-clockwise, same size)."""
    if not degrees:
        return points.copy()
    cx, cy = size[0] / 2, size[1] / 2
    a = math.radians(degrees)
    dx, dy = points[..., 0] - cx, points[..., 1] - cy
    x = cx + dx * math.cos(a) + dy * math.sin(a)
    y = cy - dx * math.sin(a) + dy * math.cos(a)
    return np.stack((x, y), axis=-1).astype(np.float32)


def clockwise_from_top_left(box: np.ndarray) -> np.ndarray:
    """A quadrilateral's corners ordered top-left, top-right, bottom-right, bottom-left."""
    centre = box.mean(axis=0)
    order = np.argsort(np.arctan2(box[:, 1] - centre[1], box[:, 0] - centre[0]))
    ring = box[order]  # clockwise on screen (y grows downwards), from the left side
    start = int(np.argmin(ring[:, 0] + ring[:, 1]))
    return np.roll(ring, -start, axis=0)


def reuse_boxes(
    kept: tuple[tuple[int, int], np.ndarray],
    size: tuple[int, int],
    turned: tuple[int, float],
) -> np.ndarray | None:
    """Boxes found on the orientation copy, moved onto the prepared page; None if they do not fit.

    Not for a page that lay on its side (a quarter turn): the text lines found across the
    sideways page lost a single-character label piece (号 of 账号 on a bank permit turned by
    270 degrees) that detection on the upright page keeps, so such pages are detected again.

    Args:
        kept: The orientation copy's size and its boxes.
        size: The prepared page's size.
        turned: ``(clockwise quarter turn, counter-clockwise small rotation)`` applied to the
            page since the copy was made (``PreparedPage.rotated_by``, ``-skew_degrees``).
    """
    (copy_w, copy_h), boxes = kept
    turn, small_rotation = turned
    if turn % 180 == 90:
        return None
    upright_w, upright_h = (size[1], size[0]) if turn % 180 == 90 else size
    sx, sy = upright_w / copy_w, upright_h / copy_h
    if abs(sx - sy) > 0.02 * max(sx, sy):
        return None  # not the page the boxes were found on
    points = boxes * np.array([sx, sy], dtype=np.float32)
    points = turn_points(points, size=(upright_w, upright_h), turn=turn)
    points = rotate_points(points, size=size, degrees=small_rotation)
    return np.stack([clockwise_from_top_left(b) for b in points]) if len(points) else points


def boxes_within(boxes: np.ndarray, regions: Sequence[tuple[int, int, int, int]]) -> np.ndarray:
    """The boxes whose centre lies inside one of the regions."""
    if len(boxes) == 0:
        return boxes
    centre = boxes.mean(axis=1)
    inside = np.zeros(len(boxes), dtype=bool)
    for left, top, right, bottom in regions:
        inside |= ((centre[:, 0] >= left) & (centre[:, 0] <= right)
                   & (centre[:, 1] >= top) & (centre[:, 1] <= bottom))
    return boxes[inside]



def piece_from_box(box: Sequence[Sequence[float]], text: str, score: float) -> Piece:
    xs = [float(p[0]) for p in box]
    ys = [float(p[1]) for p in box]
    (x0, y0), (x1, y1) = box[0], box[1]  # top-left -> top-right edge
    angle = math.degrees(math.atan2(float(y0) - float(y1), float(x1) - float(x0)))
    return Piece(text=unicodedata.normalize("NFC", text.strip()), score=score,
                 left=round(min(xs)), top=round(min(ys)), right=round(max(xs)),
                 bottom=round(max(ys)), angle=round(angle, 1))



# ---------------------------------------------------------------------------------------------
# Watermark and layout
# ---------------------------------------------------------------------------------------------


def drop_watermark(pieces: Sequence[Piece]) -> list[Piece]:
    """Pieces without a diagonal watermark's text.

    A watermark is tiled across the page at an angle, so RapidOCR reads it many times in
    fragments (``仅供客户资``, ``户资料备案使用``). A tilted piece is dropped when its text
    repeats among the tilted pieces (one contains the other) or reads like a watermark phrase.
    Upright text (the document itself, even a tilted seal's name) is never dropped here.
    """
    tilted = [p for p in pieces if abs(p.angle) >= WATERMARK_MIN_ANGLE]
    texts = [p.text for p in tilted]

    def repeated(p: Piece) -> bool:
        hits = sum(1 for t in texts if p.text in t or (len(t) >= 2 and t in p.text))
        return hits >= WATERMARK_MIN_REPEATS or bool(_WATERMARK_WORDS.match(p.text))

    dropped = {id(p) for p in tilted if repeated(p)}
    return [p for p in pieces if id(p) not in dropped]


def order_lines(pieces: Sequence[Piece]) -> list[list[Piece]]:
    """Pieces in reading order, as lines of pieces.

    Pieces are grouped into rows by vertical overlap (at least half the smaller height), rows
    sorted top to bottom, pieces left to right. A row with a gap wider than
    ``COLUMN_GAP_HEIGHTS`` line heights is split into segments. When several rows have a
    segment starting at the same right-hand x (a second column), consecutive such rows are
    emitted as the left column first, then the right column.
    """
    rows = _rows(pieces)
    return _by_columns([_segments(row) for row in rows])


def _rows(pieces: Sequence[Piece]) -> list[list[Piece]]:
    rows: list[list[Piece]] = []
    for p in sorted(pieces, key=lambda p: (p.middle, p.left)):
        for row in reversed(rows[-3:]):
            if _overlap(row, p):
                row.append(p)
                break
        else:
            rows.append([p])
    for row in rows:
        row.sort(key=lambda p: p.left)
    rows.sort(key=lambda row: min(p.top for p in row))
    return rows


def _overlap(row: list[Piece], p: Piece) -> bool:
    top, bottom = min(q.top for q in row), max(q.bottom for q in row)
    height = min(p.height, bottom - top)
    return min(bottom, p.bottom) - max(top, p.top) >= 0.5 * max(1, height)


def _segments(row: list[Piece]) -> list[list[Piece]]:
    height = sorted(p.height for p in row)[len(row) // 2]
    segments = [[row[0]]]
    for prev, p in zip(row, row[1:], strict=False):
        if p.left - prev.right > COLUMN_GAP_HEIGHTS * height:
            segments.append([p])
        else:
            segments[-1].append(p)
    return segments


def _by_columns(rows: list[list[list[Piece]]]) -> list[list[Piece]]:
    """Emit rows as lines; a run of rows that divide at the same x goes column by column."""
    out: list[list[Piece]] = []
    i = 0
    while i < len(rows):
        split_x = rows[i][1][0].left if len(rows[i]) >= 2 else None
        j = i
        while split_x is not None and j < len(rows) and _fits_split(rows[j], split_x) and (
                j == i or _close_below(rows[j - 1], rows[j])):
            j += 1
        if j - i < 2 or split_x is None:  # a single wide row (label ... date) is one line
            out.append([p for seg in rows[i] for p in seg])
            i += 1
            continue
        left, right = _halves(rows[i:j], split_x)
        if _is_label_table(left):  # labels on the left, values on the right: keep rows whole
            out.extend([p for seg in row for p in seg] for row in rows[i:j])
        else:
            out.extend(left + right)
        i = j
    return out


def _halves(rows: list[list[list[Piece]]], split_x: int) -> tuple[list[list[Piece]], ...]:
    left: list[list[Piece]] = []
    right: list[list[Piece]] = []
    tolerance = _tolerance(split_x)
    for row in rows:
        pieces = [p for seg in row for p in seg]
        for side, keep in ((left, True), (right, False)):
            part = [p for p in pieces if (p.left < split_x - tolerance) == keep]
            if part:
                side.append(part)
    return left, right


def _is_label_table(left: list[list[Piece]]) -> bool:
    """A form's label column: (nearly) every left part is a short label (客户名称, 账 号)."""
    short = sum(1 for part in left if len("".join(p.text for p in part)) <= 8)
    return short >= 0.75 * len(left)


def _close_below(above: list[list[Piece]], row: list[list[Piece]]) -> bool:
    """The next row continues a block: its gap to the row above is under three line heights."""
    pieces_above = [p for seg in above for p in seg]
    bottom = max(p.bottom for p in pieces_above)
    height = max(p.height for p in pieces_above)
    return min(p.top for seg in row for p in seg) - bottom <= COLUMN_GAP_HEIGHTS * height


def _tolerance(split_x: int) -> float:
    return 0.08 * split_x + 40


def _fits_split(row: list[list[Piece]], split_x: int) -> bool:
    """A row belongs to a two-column block when none of its pieces crosses the divide."""
    tolerance = _tolerance(split_x)
    return not any(p.left < split_x - tolerance and p.right > split_x + tolerance
                   for seg in row for p in seg)


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------

_SCRIPT_RUNS = re.compile(r"[0-9A-Za-z]+|[^0-9A-Za-z]+")


def _char_weight(ch: str) -> float:
    return 0.55 if ord(ch) < 0x2E80 else 1.0


def split_piece(piece: Piece) -> list[tuple[str, int, int]]:
    """A piece as ``(text, left, right)`` runs at script changes, boxes split proportionally."""
    runs = _SCRIPT_RUNS.findall(piece.text)
    total = sum(_char_weight(c) for c in piece.text) or 1.0
    width = piece.right - piece.left
    out, x = [], float(piece.left)
    for run in runs:
        w = width * sum(_char_weight(c) for c in run) / total
        out.append((run, round(x), round(x + w)))
        x += w
    return out


def words_of_lines(lines: Sequence[Sequence[Piece]]) -> list[Word]:
    words = []
    for n, line in enumerate(lines):
        for p in line:
            for text, left, right in split_piece(p):
                if text.strip():
                    words.append(Word(text=text.strip(), confidence=round(p.score * 100, 2),
                                      left=left, top=p.top, width=max(1, right - left),
                                      height=p.height, line=(0, 0, n)))
    return words
