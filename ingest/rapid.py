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
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image

from ingest.errors import OcrError
from ingest.ocr import (
    OcrParams,
    OcrResult,
    Orientation,
    Word,
    detect_orientation,
    normalize_ocr_text,
)

log = logging.getLogger(__name__)

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
    """RapidOCR for text, tesseract OSD for page orientation (RapidOCR has none per page).

    The model session is created on first use, not at construction or import.
    """

    name = "rapidocr"

    def __init__(self, *, threads: int = 1, osd_timeout: float = 30) -> None:
        self.threads = threads
        self.osd_timeout = osd_timeout

    def osd(self, image: Image.Image) -> Orientation:
        """Page orientation by tesseract OSD (see :func:`ingest.ocr.detect_orientation`)."""
        return detect_orientation(image, timeout=self.osd_timeout)

    def recognize(self, image: Image.Image, *, params: OcrParams) -> OcrResult:
        """OCR one page: layout-ordered text without watermark pieces, words, text layer.

        Raises:
            OcrError: RapidOCR or onnxruntime failed.
        """
        pieces = self.pieces(image)
        kept = drop_watermark(pieces)
        lines = order_lines(kept)
        text = normalize_ocr_text("\n".join(" ".join(p.text for p in line) for line in lines))
        words = tuple(_words(lines))
        confidence = round(100 * sum(p.score for p in kept) / len(kept), 2) if kept else 0.0
        dpi = round(image.info.get("dpi", (params.dpi, params.dpi))[0]) or params.dpi
        pdf = text_layer_pdf(kept, size=image.size, dpi=dpi) if params.text_pdf else None
        return OcrResult(text=text, mean_confidence=confidence, words=words, text_pdf=pdf)

    def pieces(self, image: Image.Image) -> list[Piece]:
        """All text pieces RapidOCR finds on the page, in its own order.

        Raises:
            OcrError: RapidOCR or onnxruntime failed.
        """
        try:
            # Every stage named: RapidOCR keeps the flags of the previous call (read_line).
            out = _rapid(self.threads)(_rgb(image), use_det=True, use_cls=True, use_rec=True)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises many unrelated types
            if "bad_alloc" in str(e):  # out of memory inside onnxruntime
                raise MemoryError(f"RapidOCR out of memory: {e}") from e
            raise OcrError(f"文字识别失败（RapidOCR）：{e}") from e
        if out is None or getattr(out, "boxes", None) is None or not out.txts:
            return []
        return [_piece(box, str(t), float(s)) for box, t, s in
                zip(out.boxes, out.txts, out.scores, strict=False)]

    def read_line(self, image: Image.Image) -> str:
        """Recognize one text line (no detection), e.g. a code's value region.

        Raises:
            OcrError: RapidOCR or onnxruntime failed.
        """
        try:
            out = _rapid(self.threads)(_rgb(image), use_det=False, use_cls=False, use_rec=True)
        except Exception as e:  # noqa: BLE001 - see pieces()
            if "bad_alloc" in str(e):  # out of memory inside onnxruntime
                raise MemoryError(f"RapidOCR out of memory: {e}") from e
            raise OcrError(f"文字识别失败（RapidOCR）：{e}") from e
        return "".join(getattr(out, "txts", None) or ())

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
    }
    return RapidOCR(params=params)


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


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
    return _pdf_file(objects)


def _stream(data: bytes, extra: bytes) -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def _pdf_file(objects: Sequence[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


__all__ = [
    "Piece",
    "RapidOcrEngine",
    "drop_watermark",
    "order_lines",
    "split_piece",
    "text_layer_pdf",
]
