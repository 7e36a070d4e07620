"""The OCR engine interface: what the pipeline asks of an engine and what it gets back.

An engine has a ``name``, detects page orientation (``osd``) and recognizes a page
(``recognize``), returning the text, the mean word confidence, the words with their boxes and,
optionally, a text-only PDF page (invisible text, no image) to lay over the page image.
Engines that can re-read an identifier in a region also offer ``reread_code``
(:class:`CodeReader`). The engines: :mod:`ingest.ocr.tesseract`, :mod:`ingest.ocr.rapid`, and
the per-stage composition in :mod:`ingest.ocr.engines`.

Also here, because every engine's output goes through them: :func:`normalize_ocr_text`,
:func:`code_region_after_label` and :func:`code_region_below_label`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image


@dataclass(frozen=True)
class OcrParams:
    """How to run OCR on one page.

    Attributes:
        languages: Tesseract language list. ``chi_sim`` alone measured best on generated
            licenses, forms and ID copies (see the module docstring).
        psm: Page segmentation mode; 4 (one column of variable-size text) reads labelled
            documents such as licenses far better than the default 3.
        timeout: Seconds for one tesseract run before it is killed.
        dpi: Resolution told to tesseract (and used for the PDF layer's page size).
        text_pdf: Also produce a text-only PDF page for a searchable PDF.
        turned: How the page was turned after the engine's ``osd`` saw it:
            ``(clockwise quarter turn, counter-clockwise small rotation in degrees)``. An
            engine that found the text lines during orientation (RapidOCR) moves them onto the
            page instead of detecting them again; None when unknown.
        regions: Boxes ``(left, top, right, bottom)`` holding the page's only text (ID cards on
            a copy; the rest was painted over); empty: the whole page.
        text_layer_font: The glyph-less TrueType font for a text layer an engine builds itself
            (RapidOCR); None: found in tesseract's data (see :mod:`ingest.ocr.textlayer`).
    """

    languages: str = "chi_sim"
    psm: int = 4
    timeout: float = 120
    dpi: int = 300
    text_pdf: bool = True
    turned: tuple[int, float] | None = None
    regions: tuple[tuple[int, int, int, int], ...] = ()
    text_layer_font: str | None = None


@dataclass(frozen=True)
class Orientation:
    """What OSD found: ``angle`` is the clockwise turn (0/90/180/270) making the page upright."""

    angle: int
    confidence: float


@dataclass(frozen=True)
class Word:
    """One recognized word; the box is in pixels of the image given to the engine."""

    text: str
    confidence: float
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int]  # (block, paragraph, line) numbers

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.left + self.width, self.top + self.height)


@dataclass(frozen=True)
class OcrResult:
    """The text of one page (normalized: no spaces between Chinese characters)."""

    text: str
    mean_confidence: float
    words: tuple[Word, ...] = field(default=())
    text_pdf: bytes | None = None


class OcrEngine(Protocol):
    """What the pipeline needs from an OCR engine."""

    name: str

    def osd(self, image: Image.Image) -> Orientation: ...

    def recognize(self, image: Image.Image, *, params: OcrParams) -> OcrResult: ...


class CodeReader(Protocol):
    """An engine that can re-read an identifier in a region of a page."""

    name: str

    def reread_code(
        self,
        image: Image.Image,
        region_box: tuple[int, int, int, int],
        *,
        validate: Callable[[str], bool] | None = None,
    ) -> str: ...


def words_holding(
    words: Sequence[Word], text: str, *, normalize: Callable[[str], str] | None = None
) -> tuple[list[Word], list[Word]] | None:
    """The words of one line that print ``text``, and all the words of that line; or None.

    Tesseract may split a Chinese label into single characters: the words of each line are
    joined without spaces to find it (each word's text passed through ``normalize`` first).
    """
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    for line_words in lines.values():
        joined, owners = "", []
        for i, w in enumerate(line_words):
            piece = normalize(w.text) if normalize else w.text
            joined += piece
            owners += [i] * len(piece)
        pos = joined.find(text)
        if pos >= 0:
            return line_words[owners[pos] : owners[pos + len(text) - 1] + 1], line_words
    return None


def code_region_after_label(
    words: Sequence[Word], label: str, *, image_width: int, pad: int = 12
) -> tuple[int, int, int, int] | None:
    """The region to the right of a label (e.g. 统一社会信用代码) on its text line.

    Returns:
        (left, top, right, bottom) from the label's right edge to the line's last word (at least
        a third of the page further), or None when the label was not found.
    """
    found = words_holding(words, label)
    if found is None:
        return None
    label_words, line_words = found
    last_label_word = label_words[-1]
    # The label's own height bounds the value: other words on a line may be seal debris.
    height = max(w.height for w in label_words)
    top = min(w.top for w in label_words) - pad - height // 4
    bottom = max(w.top + w.height for w in label_words) + pad + height // 4
    left = last_label_word.left + last_label_word.width + pad // 2
    right = max([w.left + w.width for w in line_words] + [left + image_width // 3]) + pad
    return (max(0, left), max(0, top), min(image_width, right), bottom)


def code_region_below_label(
    words: Sequence[Word], label: str, *, image_width: int, image_height: int, pad: int = 12
) -> tuple[int, int, int, int] | None:
    """The region under a label: one text line high, from the label's left edge (a little
    before) over the label's width or a third of the page, whichever is wider.

    The current license prints the USCC like this, under 统一社会信用代码 beside the QR code.

    Returns:
        (left, top, right, bottom), or None when the label was not found.
    """
    found = words_holding(words, label)
    if found is None:
        return None
    label_words, _ = found
    height = max(w.height for w in label_words)
    left = min(w.left for w in label_words) - pad - height // 2
    right = max(max(w.left + w.width for w in label_words), left + image_width // 3) + pad
    top = max(w.top + w.height for w in label_words) + pad // 2
    bottom = top + round(1.6 * height) + pad
    return (max(0, left), top, min(image_width, right), min(image_height, bottom))


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------

_CJK = (
    "\u2e80-\u2fdf"  # radicals
    "\u3000-\u303f"  # CJK punctuation
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ideographs
    "\uff00-\uffef"  # fullwidth forms (，：（）)
)
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}])[ \t\u00a0]+(?=[{_CJK}])")
_SPACES = re.compile(r"[ \t\u00a0]+")


def normalize_ocr_text(text: str) -> str:
    """Remove the spaces tesseract puts between Chinese characters; keep those between Latin words.

    Also drops NUL characters (pypdf's extraction of tesseract's layer), collapses runs of
    spaces, strips line ends and drops empty lines; the result is NFC.
    """
    text = unicodedata.normalize("NFC", text.replace("\x00", "").replace("\f", "\n"))
    lines = []
    for line in text.splitlines():
        line = _SPACES.sub(" ", _SPACE_BETWEEN_CJK.sub("", line)).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)
