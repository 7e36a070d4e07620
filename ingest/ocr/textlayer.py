"""The searchable PDF's invisible text layer, built from recognized pieces (RapidOCR's path).

Built like tesseract's ``textonly_pdf``: text render mode 3 over tesseract's glyph-less TrueType
font (``pdf.ttf``, 572 bytes: every character maps to one empty glyph, so the layer stays tiny
whatever the script, Chinese included). The font file is found once per process:

1. the ``ocr_text_layer_font`` setting (``DOSSIER_OCR_TEXT_LAYER_FONT``), when given;
2. ``$TESSDATA_PREFIX`` (the folder itself or its ``tessdata/``);
3. the tessdata folder the installed tesseract reports (``tesseract --list-langs``);
4. the usual packaged places (Debian/Ubuntu ``/usr/share/tesseract-ocr/<version>/tessdata``,
   Fedora ``/usr/share/tessdata``, ``/usr/local/share/tessdata``, Homebrew).

None found is a clear :class:`~ingest.errors.OcrError` naming the setting.
"""

from __future__ import annotations

import glob
import os
import zlib
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

from ingest.errors import OcrError
from ingest.ocr.layout import Piece
from ingest.ocr.tesseract import tessdata_dir
from ingest.pdfout import pdf_from_objects

FONT_NAME = "pdf.ttf"
#: Where tesseract packages put their data, newest version first within a pattern.
KNOWN_TESSDATA = (
    "/usr/share/tesseract-ocr/*/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)
_TRUETYPE_MAGIC = (b"\x00\x01\x00\x00", b"true")


@cache
def text_layer_font(configured: str | None = None) -> bytes:
    """The glyph-less TrueType font's bytes, found once per process (see the module docstring).

    Args:
        configured: The ``ocr_text_layer_font`` setting; None: look in the usual places.

    Raises:
        OcrError: The configured file is unreadable or not TrueType, or none was found.
    """
    if configured:
        return _read_font(Path(configured))
    for candidate in _candidates():
        if candidate.is_file():
            return _read_font(candidate)
    raise OcrError(
        f"找不到 PDF 文字层字体 {FONT_NAME}（tesseract-ocr 自带）：请安装 tesseract-ocr，"
        "或在设置 ocr_text_layer_font（环境变量 DOSSIER_OCR_TEXT_LAYER_FONT）中指定该字体文件",
        searched=", ".join(str(p) for p in _candidates()),
    )


def _candidates() -> Iterator[Path]:
    prefix = os.environ.get("TESSDATA_PREFIX")
    if prefix:
        yield Path(prefix) / FONT_NAME
        yield Path(prefix) / "tessdata" / FONT_NAME
    reported = tessdata_dir()
    if reported is not None:
        yield reported / FONT_NAME
    for pattern in KNOWN_TESSDATA:
        for folder in sorted(glob.glob(pattern), reverse=True):
            yield Path(folder) / FONT_NAME


def _read_font(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise OcrError(f"无法读取 PDF 文字层字体 {path}：{e.strerror or e}") from e
    if not data.startswith(_TRUETYPE_MAGIC):
        raise OcrError(f"PDF 文字层字体 {path} 不是 TrueType 字体（.ttf）")
    return data


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


def text_layer_pdf(
    pieces: Sequence[Piece], *, size: tuple[int, int], dpi: int, font: bytes
) -> bytes:
    """A one-page PDF holding only invisible text (render mode 3) at the pieces' boxes.

    Built like tesseract's ``textonly_pdf``: a Type0 font over tesseract's glyph-less TrueType
    font, Identity-H encoding with CIDs equal to UTF-16 code units and an identity ToUnicode
    map, so text extraction and search return the recognized characters. The page size is the
    image size at ``dpi``, so it lays exactly over the image page.

    Args:
        pieces: The recognized pieces, boxes in image pixels.
        size: The image size in pixels.
        dpi: The image resolution.
        font: A glyph-less TrueType font (:func:`text_layer_font`).
    """
    scale = 72.0 / dpi
    width, height = size[0] * scale, size[1] * scale
    content = _text_ops(pieces, height_px=size[1], scale=scale).encode("ascii")
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

