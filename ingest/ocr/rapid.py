"""RapidOCR (PP-OCR models on onnxruntime) behind the OCR engine interface.

The only module that imports rapidocr. The PP-OCR models ship inside the ``rapidocr`` wheel;
only the bundled defaults are used (another model would trigger a download that fails offline).
onnxruntime runs with one thread: the pipeline runs one worker process per core.

RapidOCR returns text pieces with quadrilateral boxes in no useful order. The engine detects
text boxes once per page (the orientation decision reuses them, :func:`orientation_from_boxes`),
then hands the recognized pieces to :mod:`ingest.ocr.layout` (watermark, reading order, words)
and builds the searchable PDF's invisible text layer with :mod:`ingest.ocr.textlayer`, so no
second engine has to read the page just for the PDF.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache

import numpy as np
from PIL import Image

from ingest.errors import OcrError
from ingest.ocr.base import OcrParams, OcrResult, Orientation, normalize_ocr_text
from ingest.ocr.layout import (
    Piece,
    boxes_within,
    drop_watermark,
    order_lines,
    piece_from_box,
    reuse_boxes,
    words_of_lines,
)
from ingest.ocr.textlayer import text_layer_font, text_layer_pdf
from ingest.pdfout import image_dpi

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
        words = tuple(words_of_lines(lines))
        confidence = (round(100 * sum(p.score for p in kept_pieces) / len(kept_pieces), 2)
                      if kept_pieces else 0.0)
        dpi = image_dpi(image, params.dpi)
        pdf = None
        if params.text_pdf:
            font = text_layer_font(params.text_layer_font)
            pdf = text_layer_pdf(kept_pieces, size=image.size, dpi=dpi, font=font)
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

    def read_lines(self, images: Sequence[Image.Image]) -> list[tuple[str, float]]:
        """Recognize text lines (no detection), each with its score (0..1): the cells a
        form's value was written into when the detector found no text there
        (:mod:`ingest.cellreads`).

        Raises:
            OcrError: RapidOCR or onnxruntime failed.
        """
        if not images:
            return []
        with _onnx_errors():
            out = _rapid(self.threads).recognize_txt([_array(i) for i in images])
        texts, scores = list(out.txts or ()), list(out.scores or ())
        return [
            (str(texts[i]) if i < len(texts) else "", float(scores[i]) if i < len(scores) else 0.0)
            for i in range(len(images))
        ]

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
                pieces.append(piece_from_box(box, str(text), float(score)))
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
# Orientation from text boxes
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

