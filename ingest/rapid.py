"""RapidOCR (PP-OCR models on onnxruntime) behind the OCR engine interface.

The only module that imports rapidocr. The PP-OCR models ship inside the ``rapidocr`` wheel;
only the bundled defaults are used (another model would trigger a download that fails offline).
onnxruntime runs with one thread: the pipeline runs one worker process per core.

RapidOCR returns text pieces with quadrilateral boxes in no useful order. This module:

* drops a diagonal watermark's pieces (``仅供…使用`` repeated across the page at an angle);
* orders the rest by layout: pieces are grouped into lines by vertical overlap, lines go top to
  bottom, pieces left to right; a wide horizontal gap splits a line into segments, and the
  segments of a two-column page are emitted column by column so a license's left and right
  columns are never mixed into one line;
* splits each piece into words at script changes (``统一社会信用代码91330…`` -> label + code)
  with proportional boxes, so :func:`ingest.ocr.code_region_after_label` finds a value region;
* builds the searchable PDF's invisible text layer itself (tesseract's glyph-less font, text
  render mode 3), so no second engine has to read the page just for the PDF.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from ingest.errors import OcrError
from ingest.ocr import (
    OcrParams,
    OcrResult,
    Orientation,
    Word,
    normalize_ocr_text,
)
from ingest.pdfout import image_dpi, pdf_from_objects

log = logging.getLogger(__name__)

#: Text detection runs on a copy at this resolution. Measured on generated 300 dpi pages
#: (licenses, permits, contracts, forms, a watermarked ID copy): detecting at about 110 dpi
#: (1,280 px on an A4 page's long side) gave the same text as RapidOCR's default (the page
#: scaled to 2,000 px, about 170 dpi) in 0.47 s instead of 1.26 s a page; at 87 dpi the
#: watermarked ID copy lost lines.
DETECTION_DPI = 110
#: Recognized pieces scoring below this are dropped (RapidOCR's own ``text_score``).
TEXT_MIN_SCORE = 0.5
#: Orientation: boxes this much longer than high (or higher than long) are text lines ...
LINE_ASPECT = 2.0
#: ... when their edges lie within this many degrees of the page's axes (not a watermark).
AXIS_TOLERANCE_DEGREES = 15.0
#: Orientation: the largest lines the classifier votes on.
ORIENTATION_SAMPLE = 12
#: A piece tilted more than this (degrees) is not a normal text line.
WATERMARK_MIN_ANGLE = 12.0
#: Tilted pieces whose text repeats (as a substring of another tilted piece) this often or more.
WATERMARK_MIN_REPEATS = 2
#: A horizontal gap wider than this many line heights splits a line into two segments.
COLUMN_GAP_HEIGHTS = 2.2
GLYPHLESS_FONT = Path("/usr/share/tesseract-ocr/5/tessdata/pdf.ttf")
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


class RapidOcrEngine:
    """RapidOCR for orientation and text; one text detection serves both.

    ``osd`` detects text boxes on the orientation copy of a page and decides the orientation
    from them (see :func:`orientation_from_boxes`); ``recognize`` then reuses those boxes when it
    is told how the page was turned since (``OcrParams.turned``), so a page's text is detected
    once. Without that hint, or when the sizes do not fit, it detects again.

    The model session is created on first use, not at construction or import.
    """

    name = "rapidocr"

    def __init__(self, *, threads: int = 1, osd_timeout: float = 30) -> None:
        self.threads = threads
        self.osd_timeout = osd_timeout
        self._kept = threading.local()  # the last orientation copy's boxes, per thread

    def osd(self, image: Image.Image) -> Orientation:
        """Page orientation from text boxes and the line classifier; kept for ``recognize``.

        Raises:
            OcrError: RapidOCR or onnxruntime failed.
        """
        array = _array(image)
        boxes = self._detect(array, dpi=image_dpi(image))
        self._kept.layout = (image.size, boxes)
        return orientation_from_boxes(array, boxes, classify=self._classify)

    def recognize(self, image: Image.Image, *, params: OcrParams) -> OcrResult:
        """OCR one page: layout-ordered text without watermark pieces, words, text layer.

        Raises:
            OcrError: RapidOCR or onnxruntime failed.
        """
        kept = getattr(self._kept, "layout", None)
        self._kept.layout = None
        array = _array(image)
        boxes = reuse_boxes(kept, image.size, params.turned) if kept and params.turned else None
        if boxes is None:
            boxes = self._detect(array, dpi=image_dpi(image, params.dpi))
        if params.regions:
            boxes = boxes_within(boxes, params.regions)
        pieces = self._read(array, boxes)
        kept_pieces = drop_watermark(pieces)
        lines = order_lines(kept_pieces)
        text = normalize_ocr_text("\n".join(" ".join(p.text for p in line) for line in lines))
        words = tuple(_words(lines))
        confidence = (round(100 * sum(p.score for p in kept_pieces) / len(kept_pieces), 2)
                      if kept_pieces else 0.0)
        dpi = image_dpi(image, params.dpi)
        pdf = text_layer_pdf(kept_pieces, size=image.size, dpi=dpi) if params.text_pdf else None
        return OcrResult(text=text, mean_confidence=confidence, words=words, text_pdf=pdf)

    def pieces(self, image: Image.Image) -> list[Piece]:
        """All text pieces RapidOCR finds on the page, in detection order.

        Raises:
            OcrError: RapidOCR or onnxruntime failed.
        """
        array = _array(image)
        return self._read(array, self._detect(array, dpi=image_dpi(image)))

    def read_line(self, image: Image.Image) -> str:
        """Recognize one text line (no detection), e.g. a code's value region.

        Raises:
            OcrError: RapidOCR or onnxruntime failed.
        """
        with _onnx_errors():
            out = _rapid(self.threads).recognize_txt([_array(image)])
        return "".join(out.txts or ())

    def reread_code(
        self,
        image: Image.Image,
        region_box: tuple[int, int, int, int],
        *,
        validate: Callable[[str], bool] | None = None,
    ) -> str:
        """Re-read a code (USCC, ID number) in a region: its longest letter/digit run."""
        text = unicodedata.normalize("NFKC", self.read_line(image.crop(region_box))).upper()
        runs = re.findall(r"[0-9A-Z]+", text)
        return max(runs, key=len) if runs else ""

    # -- stages ----------------------------------------------------------------------------

    def _detect(self, array: np.ndarray, *, dpi: int) -> np.ndarray:
        """Text boxes, ``(n, 4, 2)`` corner points in ``array``'s pixels.

        Detection runs on a copy at ``DETECTION_DPI`` (finer costs time and finds nothing more
        on documents; see the constant).
        """
        factor = min(1.0, DETECTION_DPI / dpi) if dpi > 0 else 1.0
        small = array
        if factor < 0.95:
            import cv2  # noqa: PLC0415 - rapidocr's dependency, loaded with it

            size = (max(1, round(array.shape[1] * factor)), max(1, round(array.shape[0] * factor)))
            small = cv2.resize(array, size, interpolation=cv2.INTER_AREA)
        with _onnx_errors():
            out = _rapid(self.threads)(small, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return np.zeros((0, 4, 2), dtype=np.float32)
        boxes = np.asarray(boxes, dtype=np.float32)
        if small is not array:
            boxes[..., 0] *= array.shape[1] / small.shape[1]
            boxes[..., 1] *= array.shape[0] / small.shape[0]
        return boxes

    def _classify(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """The line classifier's ``("0" | "180", score)`` for each crop."""
        if not crops:
            return []
        with _onnx_errors():
            _, out = _rapid(self.threads).cls_and_rotate(crops)
        return [(str(label), float(score)) for label, score in out.cls_res]

    def _read(self, array: np.ndarray, boxes: np.ndarray) -> list[Piece]:
        """Crop each box from the page, turn upside-down lines, recognize them."""
        if len(boxes) == 0:
            return []
        crops = [_crop(array, box) for box in boxes]
        engine = _rapid(self.threads)
        with _onnx_errors():
            upright, _ = engine.cls_and_rotate(crops)
            out = engine.recognize_txt(upright)
        pieces = []
        for box, text, score in zip(boxes, out.txts or (), out.scores, strict=False):
            if text.strip() and float(score) >= TEXT_MIN_SCORE:
                pieces.append(_piece(box, str(text), float(score)))
        return pieces


@contextmanager
def _onnx_errors() -> Iterator[None]:
    """onnxruntime's failures as OcrError; its out-of-memory as MemoryError."""
    try:
        yield
    except (OcrError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - onnxruntime raises many unrelated types
        if "bad_alloc" in str(e):  # out of memory inside onnxruntime
            raise MemoryError(f"RapidOCR out of memory: {e}") from e
        raise OcrError(f"文字识别失败（RapidOCR）：{e}") from e


# ---------------------------------------------------------------------------------------------
# Orientation from text boxes, and reusing them after the page was turned
# ---------------------------------------------------------------------------------------------


def _box_geometry(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Width (first edge), height (second edge) and the first edge's angle in degrees."""
    top = boxes[:, 1] - boxes[:, 0]
    side = boxes[:, 3] - boxes[:, 0]
    width = np.hypot(top[:, 0], top[:, 1])
    height = np.hypot(side[:, 0], side[:, 1])
    angle = np.degrees(np.arctan2(top[:, 1], top[:, 0]))
    return width, height, angle


def orientation_from_boxes(
    array: np.ndarray,
    boxes: np.ndarray,
    *,
    classify: Callable[[list[np.ndarray]], list[tuple[str, float]]],
) -> Orientation:
    """Which clockwise turn makes the page upright, from its text lines.

    Text lines are long boxes. Along the page's axes (diagonal watermark pieces are left out),
    their area either lies mostly in wide boxes (the page is upright or upside down) or mostly
    in tall ones (it lies on its side). The line classifier then says, for the largest
    ``ORIENTATION_SAMPLE`` lines (tall ones turned a quarter counter-clockwise first), whether
    each reads upright or upside down; the score-weighted vote decides between the two
    remaining turns.

    Confidence is ``10 x`` the weaker of the two margins (wide against tall area; upright
    against upside-down votes), scaled down when fewer than four lines were classified: 10 for
    a clear page, 0 when there is no line to go by.
    """
    if len(boxes) == 0:
        return Orientation(angle=0, confidence=0.0)
    width, height, angle = _box_geometry(boxes)
    off_axis = np.minimum(np.abs(angle) % 90, 90 - np.abs(angle) % 90)
    on_axis = off_axis <= AXIS_TOLERANCE_DEGREES
    area = width * height
    wide = on_axis & (width >= LINE_ASPECT * height)
    tall = on_axis & (height >= LINE_ASPECT * width)
    wide_area, tall_area = float(area[wide].sum()), float(area[tall].sum())
    if wide_area + tall_area <= 0:
        return Orientation(angle=0, confidence=0.0)
    sideways = tall_area > wide_area
    chosen = np.flatnonzero(tall if sideways else wide)
    chosen = chosen[np.argsort(-area[chosen])][:ORIENTATION_SAMPLE]
    votes = classify([_crop(array, boxes[i]) for i in chosen])  # tall crops come turned
    upright = sum(score for label, score in votes if label == "0")
    flipped = sum(score for label, score in votes if label == "180")
    if upright + flipped <= 0:
        return Orientation(angle=0, confidence=0.0)
    if sideways:  # a tall line turned counter-clockwise reads upright: the page needs 270
        turn = 90 if flipped > upright else 270
    else:
        turn = 180 if flipped > upright else 0
    axis_margin = abs(wide_area - tall_area) / (wide_area + tall_area)
    vote_margin = abs(upright - flipped) / (upright + flipped)
    confidence = 10 * min(axis_margin, vote_margin) * min(1.0, len(votes) / 4)
    return Orientation(angle=turn, confidence=round(confidence, 2))


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


def _crop(array: np.ndarray, box: np.ndarray) -> np.ndarray:
    from rapidocr.utils.process_img import get_rotate_crop_image  # noqa: PLC0415 - see _rapid

    return get_rotate_crop_image(array, np.asarray(box, dtype=np.float32).copy())


def _array(image: Image.Image) -> np.ndarray:
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


@cache
def _rapid(threads: int):  # noqa: ANN202 - rapidocr's type is private to this module
    """One RapidOCR instance per process and thread count (models load lazily inside)."""
    try:
        from rapidocr import RapidOCR  # imported late: cv2 and onnxruntime take time to load
    except ImportError as e:
        raise OcrError("未安装 RapidOCR（pip install rapidocr onnxruntime）") from e
    params = {
        "Global.log_level": "warning",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        # The caller scales the page to DETECTION_DPI; only small images are scaled up.
        "Det.limit_type": "min",
        "Det.limit_side_len": 736,
        # Lines are padded to at least this width (RapidOCR: 320). Two thirds of a document's
        # pieces are short (labels, names, dates); at 160 recognition took a third less time
        # and read 104 of 105 pieces the same (the odd one a lone seal character).
        "Rec.rec_img_shape": [3, 48, 160],
    }
    return RapidOCR(params=params)


def _piece(box: Sequence[Sequence[float]], text: str, score: float) -> Piece:
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


def _words(lines: Sequence[Sequence[Piece]]) -> list[Word]:
    words = []
    for n, line in enumerate(lines):
        for p in line:
            for text, left, right in split_piece(p):
                if text.strip():
                    words.append(Word(text=text.strip(), confidence=round(p.score * 100, 2),
                                      left=left, top=p.top, width=max(1, right - left),
                                      height=p.height, line=(0, 0, n)))
    return words


# ---------------------------------------------------------------------------------------------
# The invisible text layer
# ---------------------------------------------------------------------------------------------


@cache
def _glyphless_font() -> bytes:
    try:
        return GLYPHLESS_FONT.read_bytes()
    except OSError as e:
        raise OcrError(f"找不到文字层字体 {GLYPHLESS_FONT}（tesseract-ocr 自带）") from e


def _hex_utf16(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _text_ops(pieces: Sequence[Piece], *, height_px: int, scale: float) -> str:
    ops = []
    for p in pieces:
        if not p.text:
            continue
        size = max(1.0, p.height * scale * 0.9)
        units = len(p.text.encode("utf-16-be")) // 2
        natural = units * size * 0.5  # the glyph-less font's advance is 500/1000 em
        tz = 100 * (p.right - p.left) * scale / natural if natural else 100
        x, y = p.left * scale, (height_px - p.bottom) * scale + size * 0.1
        ops.append(f"BT 3 Tr 1 0 0 1 {x:.2f} {y:.2f} Tm /F1 {size:.2f} Tf {tz:.2f} Tz "
                   f"<{_hex_utf16(p.text)}> Tj ET")
    return "\n".join(ops)


def text_layer_pdf(pieces: Sequence[Piece], *, size: tuple[int, int], dpi: int) -> bytes:
    """A one-page PDF holding only invisible text (render mode 3) at the pieces' boxes.

    Built like tesseract's ``textonly_pdf``: a Type0 font over tesseract's glyph-less TrueType
    font, Identity-H encoding with CIDs equal to UTF-16 code units and an identity ToUnicode
    map, so text extraction and search return the recognized characters. The page size is the
    image size at ``dpi``, so it lays exactly over the image page.
    """
    scale = 72.0 / dpi
    width, height = size[0] * scale, size[1] * scale
    content = _text_ops(pieces, height_px=size[1], scale=scale).encode("ascii")
    font = _glyphless_font()
    cid_to_gid = zlib.compress(b"\x00\x01" * 65536)
    to_unicode = (
        b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        b"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        b"1 beginbfrange\n<0000> <FFFF> <0000>\nendbfrange\n"
        b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:.2f} {height:.2f}] "
        f"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>".encode(),
        _stream(zlib.compress(content), b"/Filter /FlateDecode"),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H "
        b"/DescendantFonts [6 0 R] /ToUnicode 9 0 R >>",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        b"/FontDescriptor 7 0 R /DW 500 /CIDToGIDMap 8 0 R >>",
        b"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 "
        b"/FontBBox [0 0 500 1000] /ItalicAngle 0 /Ascent 1000 /Descent -1 /CapHeight 1000 "
        b"/StemV 80 /FontFile2 10 0 R >>",
        _stream(cid_to_gid, b"/Filter /FlateDecode"),
        _stream(to_unicode, b""),
        _stream(font, f"/Length1 {len(font)}".encode()),
    ]
    return pdf_from_objects(objects)


def _stream(data: bytes, extra: bytes) -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), extra, data)


__all__ = [
    "Piece",
    "RapidOcrEngine",
    "drop_watermark",
    "order_lines",
    "split_piece",
    "text_layer_pdf",
]
