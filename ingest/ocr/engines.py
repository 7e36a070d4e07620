"""Choosing OCR engines per stage: orientation, full text, key-field re-read.

``make_ocr_engine(name)`` builds what the pipeline calls an engine:

* ``"tesseract"``: tesseract for everything (orientation by OSD, text with ``chi_sim --psm 4``,
  codes re-read with ``eng --psm 7`` and a whitelist).
* ``"rapidocr"``: RapidOCR for orientation (text boxes + line classifier), text and the PDF
  text layer, codes re-read by tesseract.
* ``"cascade"``: a :class:`CascadeEngine` composed of one engine per stage; by default
  RapidOCR orientation (tesseract OSD when it is unsure) -> RapidOCR full text, reusing the
  text boxes found for the orientation -> code re-read by tesseract ``--psm 7``, then by
  RapidOCR's recognizer on the same region when tesseract's reading does not validate.

An engine whose text comes from RapidOCR also offers ``second_reading``: tesseract reads given
value regions again (one run per page), the other engine's opinion on a field
(:mod:`ingest.rereads`). Tesseract alone has no second engine and offers none.

The numbers behind the default are in docs/benchmarks-accuracy.md (``python -m bench.accuracy``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cache

from PIL import Image

from ingest.errors import OcrError, ProcessingTimeoutError
from ingest.ocr.base import CodeReader, OcrEngine, OcrParams, OcrResult, Orientation
from ingest.ocr.rapid import RapidOcrEngine
from ingest.ocr.tesseract import TesseractEngine

log = logging.getLogger(__name__)

ENGINE_NAMES = ("tesseract", "rapidocr", "cascade")
#: RapidOCR's orientation (0-10, see ingest.ocr.rapid.orientation_from_boxes) below which the
#: cascade asks tesseract OSD instead.
SURE_RAPID_ORIENTATION = 3.0


class CascadeEngine:
    """One engine per stage, behind the ordinary engine interface.

    Attributes:
        orientation: Its ``osd`` turns pages upright.
        text: Its ``recognize`` gives the page text, words and PDF text layer.
        readers: Tried in order by :meth:`reread_code` until a reading validates.
        orientation_fallback: Asked when ``orientation`` answers with less than
            ``sure_orientation`` confidence (None: take the first answer).
    """

    name = "cascade"

    def __init__(self, *, orientation: OcrEngine, text: OcrEngine,
                 readers: Sequence[CodeReader], orientation_fallback: OcrEngine | None = None,
                 sure_orientation: float = 0.0) -> None:
        self.orientation = orientation
        self.text = text
        self.readers = tuple(readers)
        self.orientation_fallback = orientation_fallback
        self.sure_orientation = sure_orientation

    def osd(self, image: Image.Image) -> Orientation:
        """Page orientation from the orientation engine, or its fallback when it is unsure."""
        found = self.orientation.osd(image)
        if self.orientation_fallback is None or found.confidence >= self.sure_orientation:
            return found
        log.debug("orientation %s unsure (%.2f): asking %s", self.orientation.name,
                  found.confidence, self.orientation_fallback.name)
        return self.orientation_fallback.osd(image)

    def recognize(self, image: Image.Image, *, params: OcrParams) -> OcrResult:
        """Page text from the text engine."""
        return self.text.recognize(image, params=params)

    def read_lines(self, images: Sequence[Image.Image]) -> list[tuple[str, float]]:
        """The text engine's line recognizer (``read_lines``); nothing read when it has none."""
        read = getattr(self.text, "read_lines", None)
        return read(images) if read is not None else [("", 0.0) for _ in images]

    def reread_code(
        self,
        image: Image.Image,
        region_box: tuple[int, int, int, int],
        *,
        validate: Callable[[str], bool] | None = None,
    ) -> str:
        """Each reader in turn; the first reading that validates, else the first reading.

        A reader that fails (OcrError) is skipped: a re-read is a second chance, not a stage
        that may fail the page.
        """
        first = ""
        for reader in self.readers:
            try:
                text = reader.reread_code(image, region_box, validate=validate)
            except OcrError as e:
                log.warning("code re-read by %s failed: %s", reader.name, e)
                continue
            if validate is None or validate(text):
                return text
            first = first or text
        return first

    def second_reading(
        self, image: Image.Image, boxes: Sequence[tuple[int, int, int, int]]
    ) -> list[tuple[str, float]]:
        """The first reader that is not the text engine reads the value regions again
        (``(text, confidence 0..1)`` per box); empty when none can or it fails."""
        return _second_reading(
            [r for r in self.readers if r.name != self.text.name], image, boxes
        )


def make_ocr_engine(name: str, *, threads: int = 1) -> OcrEngine:
    """The engine for a setting value (``Settings.ocr_engine``).

    Args:
        name: ``"tesseract"``, ``"rapidocr"`` or ``"cascade"``.
        threads: Threads for RapidOCR's onnxruntime session (one process per core: keep 1).

    Raises:
        ValueError: Unknown name.
    """
    if name == "tesseract":
        return TesseractEngine()
    if name == "rapidocr":
        return _RapidWithTesseractCodes(threads=threads)
    if name == "cascade":
        tesseract, rapid = TesseractEngine(), RapidOcrEngine(threads=threads)
        return CascadeEngine(orientation=rapid, text=rapid, readers=(tesseract, rapid),
                             orientation_fallback=tesseract,
                             sure_orientation=SURE_RAPID_ORIENTATION)
    raise ValueError(f"unknown OCR engine {name!r}; choose from {ENGINE_NAMES}")


@cache
def shared_engine(name: str) -> OcrEngine:
    """One engine per name and process (RapidOCR loads its models once per process)."""
    return make_ocr_engine(name)


class _RapidWithTesseractCodes(RapidOcrEngine):
    """``rapidocr``: RapidOCR text, tesseract's code re-read (the measured single-engine mix)."""

    name = "rapidocr"

    def reread_code(
        self,
        image: Image.Image,
        region_box: tuple[int, int, int, int],
        *,
        validate: Callable[[str], bool] | None = None,
    ) -> str:
        return TesseractEngine().reread_code(image, region_box, validate=validate)

    def second_reading(
        self, image: Image.Image, boxes: Sequence[tuple[int, int, int, int]]
    ) -> list[tuple[str, float]]:
        """Tesseract reads the value regions again (see :meth:`CascadeEngine.second_reading`)."""
        return _second_reading([TesseractEngine()], image, boxes)


def _second_reading(
    readers: Sequence[object], image: Image.Image, boxes: Sequence[tuple[int, int, int, int]]
) -> list[tuple[str, float]]:
    """The first reader with ``read_regions`` reads ``boxes``; a failure gives no opinion."""
    for reader in readers:
        read_regions = getattr(reader, "read_regions", None)
        if read_regions is None:
            continue
        try:
            return read_regions(image, boxes)
        except (OcrError, ProcessingTimeoutError) as e:
            log.warning("second reading by %s failed: %s", getattr(reader, "name", "?"), e)
            return []
    return []


__all__ = ["ENGINE_NAMES", "CascadeEngine", "make_ocr_engine", "shared_engine"]
