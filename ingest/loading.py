"""Loading an input file into pages: one entry point for images, PDFs and Office files.

``load_document`` checks limits before decoding anything, reads what can be read cheaply (page
count, existing text layers) and returns a :class:`LoadedDocument` whose ``render_page`` yields
one page image at a time, so a long book never sits in memory whole.

Decisions:
- Multi-frame TIFF: every frame is a page. Animated WebP and GIF: only the first frame is a
  page (an animation is not a multi-page document; later frames are never decoded).
- Images come out in mode ``1``, ``L`` or ``RGB``: CMYK, YCbCr and LAB become RGB; 16/32-bit
  greyscale is scaled to 8 bits; transparency is flattened onto white. EXIF orientation is
  applied. ``info["dpi"]`` always holds a plausible resolution (300 is guessed when the file has
  none, or an absurd one), and ``info["dpi_guessed"]`` says whether it was guessed.
- For images ``render_page``'s ``dpi`` is ignored: the scan's own pixels are returned; the
  clean-up step resamples. For PDFs and Office files it is the rendering resolution.
- Decompression bombs: the pixel count from the header is compared with
  ``Limits.max_image_pixels`` before any pixel is decoded (Pillow's own global limit, about
  179 megapixels, still refuses bigger images at open time; both become ``TooLargeError``).
"""

from __future__ import annotations

import logging
import math
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageOps, UnidentifiedImageError

from ingest.detect import DetectedFormat, FormatKind, detect_format
from ingest.errors import CorruptFileError, IngestError, TooLargeError, UnsupportedFormatError
from ingest.office import convert_to_pdf
from ingest.pdfin import PdfPageRenderer, read_pdf

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

GUESSED_DPI = 300
_MIN_PLAUSIBLE_DPI = 50
_MAX_PLAUSIBLE_DPI = 2400
_MAX_PLAUSIBLE_PAGE_INCHES = 24.0  # longer than A2: the recorded DPI cannot be the scan's

# What Pillow raises on damaged or hostile input (found by its own fuzzers).
_PILLOW_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    ZeroDivisionError,
    struct.error,
    zlib.error,
)

_FIRST_FRAME_ONLY = frozenset({FormatKind.GIF, FormatKind.WEBP})


@dataclass(frozen=True)
class Limits:
    """Resource limits for reading one file.

    Attributes:
        max_file_bytes: Larger files are refused before being opened.
        max_pages: Documents with more pages are refused.
        max_image_pixels: Larger images are refused (images) or rendered smaller (PDF pages).
        dpi: Default rendering resolution for PDF pages.
        office_timeout_seconds: Time limit for one LibreOffice conversion.
    """

    max_file_bytes: int = 200 * 1024 * 1024
    max_pages: int = 300
    max_image_pixels: int = 100_000_000
    dpi: int = 300
    office_timeout_seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """Build limits from settings (``max_file_mb``, ``max_pages``, ``max_image_pixels``,
        ``target_dpi``; an Office conversion gets at most half the per-file time limit)."""
        return cls(
            max_file_bytes=settings.max_file_mb * 1024 * 1024,
            max_pages=settings.max_pages,
            max_image_pixels=settings.max_image_pixels,
            dpi=settings.target_dpi,
            office_timeout_seconds=settings.file_timeout_seconds / 2,
        )


@dataclass(frozen=True)
class PageInfo:
    """One page of a loaded document.

    Attributes:
        index: 0-based page index.
        text: The page's existing text layer (normalized), or None for an image-only page
            that needs OCR.
    """

    index: int
    text: str | None = None

    @property
    def has_text(self) -> bool:
        return self.text is not None


@dataclass
class LoadedDocument:
    """A readable document: its format, pages, and a way to render one page at a time.

    Attributes:
        format: The detected format.
        pages: One entry per page.
        source_pdf: The PDF to take text pages from (the input PDF, a decrypted or repaired
            copy, or LibreOffice's conversion); None for images.
    """

    format: DetectedFormat
    pages: list[PageInfo]
    source_pdf: Path | None
    _render: Callable[[int, int], Image.Image] = field(repr=False)
    _default_dpi: int = field(default=300, repr=False)
    _close: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def page_count(self) -> int:
        return len(self.pages)

    def render_page(self, index: int, *, dpi: int | None = None) -> Image.Image:
        """Decode or render one page.

        Args:
            index: 0-based page index.
            dpi: Rendering resolution for PDF pages (default: ``Limits.dpi``); ignored for
                images, which keep their own pixels.

        Returns:
            A mode ``1``, ``L`` or ``RGB`` image, upright per EXIF, with ``info["dpi"]`` set.

        Raises:
            IndexError: No such page.
            CorruptFileError: The page's data cannot be decoded.
            TooLargeError: A frame is bigger than the pixel limit.
        """
        if not 0 <= index < len(self.pages):
            raise IndexError(f"page {index} of {len(self.pages)}")
        return self._render(index, dpi or self._default_dpi)

    def close(self) -> None:
        """Release open handles (the pdfium document). Safe to call twice."""
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> LoadedDocument:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_document(path: Path, *, limits: Limits, work_dir: Path) -> LoadedDocument:
    """Detect a file's format, check limits, and prepare its pages.

    The input file is only read, never modified. Office files are converted to PDF in
    ``work_dir``; decrypted or repaired PDF copies are written there too.

    Args:
        path: The input file.
        limits: Resource limits.
        work_dir: A folder for intermediate files (the caller cleans it up).

    Returns:
        The loaded document; close it (or use ``with``) when done.

    Raises:
        IngestError: A subclass saying specifically why the file cannot be read
            (EmptyFileError, UnsupportedFormatError, CorruptFileError, EncryptedFileError,
            TooLargeError, ConversionError).
    """
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        mb, max_mb = size / 1048576, limits.max_file_bytes / 1048576
        raise TooLargeError(f"文件大小超过上限（{mb:.1f} MB，上限 {max_mb:.0f} MB）")
    fmt = detect_format(path)
    if fmt.is_image:
        return _load_image(path, fmt=fmt, limits=limits)
    if fmt.is_pdf:
        return _load_pdf(path, fmt=fmt, limits=limits, work_dir=work_dir)
    if fmt.is_office:
        pdf = convert_to_pdf(
            path, kind=fmt.kind, work_dir=work_dir, timeout=limits.office_timeout_seconds
        )
        return _load_pdf(pdf, fmt=fmt, limits=limits, work_dir=work_dir)
    raise UnsupportedFormatError(f"不支持的文件格式：{fmt.kind}")


def _load_pdf(path: Path, *, fmt: DetectedFormat, limits: Limits, work_dir: Path) -> LoadedDocument:
    content = read_pdf(path, max_pages=limits.max_pages, work_dir=work_dir)
    renderer = PdfPageRenderer(content.path, max_image_pixels=limits.max_image_pixels)
    return LoadedDocument(
        format=fmt,
        pages=[PageInfo(index=i, text=t) for i, t in enumerate(content.page_texts)],
        source_pdf=content.path,
        _render=lambda index, dpi: renderer.render(index, dpi=dpi),
        _default_dpi=limits.dpi,
        _close=renderer.close,
    )


# --- images ------------------------------------------------------------------------------------


def _load_image(path: Path, *, fmt: DetectedFormat, limits: Limits) -> LoadedDocument:
    with _open_image(path) as im:
        frames = 1 if fmt.kind in _FIRST_FRAME_ONLY else _frame_count(im)
        if frames > limits.max_pages:
            raise TooLargeError(f"图像页数超过上限（{frames} 页，上限 {limits.max_pages} 页）")
        _check_pixels(im.size, limits.max_image_pixels)

    def render(index: int, _dpi: int) -> Image.Image:
        return _decode_frame(path, index=index, max_pixels=limits.max_image_pixels)

    return LoadedDocument(
        format=fmt,
        pages=[PageInfo(index=i) for i in range(frames)],
        source_pdf=None,
        _render=render,
        _default_dpi=limits.dpi,
    )


def _open_image(path: Path) -> Image.Image:
    """Open (parse the header of) an image; nothing is decoded yet."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as e:
        raise TooLargeError("图像像素超过上限（疑似解压炸弹）") from e
    except UnidentifiedImageError as e:
        raise CorruptFileError("图像文件已损坏或格式无法识别") from e
    except _PILLOW_ERRORS as e:
        raise CorruptFileError(f"图像文件头已损坏：{_reason(e)}") from e


def _frame_count(im: Image.Image) -> int:
    try:
        return int(getattr(im, "n_frames", 1))
    except _PILLOW_ERRORS as e:
        raise CorruptFileError(f"图像文件结构已损坏：{_reason(e)}") from e


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise CorruptFileError(f"图像尺寸无效（{width}×{height}）")
    if width * height > max_pixels:
        raise TooLargeError(
            f"图像像素超过上限（{width}×{height} = {width * height / 1e6:.0f} 百万像素，"
            f"上限 {max_pixels / 1e6:.0f} 百万像素）"
        )


def _decode_frame(path: Path, *, index: int, max_pixels: int) -> Image.Image:
    with _open_image(path) as im:
        try:
            if index:
                im.seek(index)
            _check_pixels(im.size, max_pixels)
            dpi = _plausible_dpi(im)
            im.load()
            upright = _exif_transpose(im)
            page = _to_ocr_mode(upright)
        except IngestError:
            raise
        except _PILLOW_ERRORS as e:
            raise CorruptFileError(_decode_message(e, index)) from e
    page.info["dpi"], page.info["dpi_guessed"] = dpi
    return page


def _exif_transpose(im: Image.Image) -> Image.Image:
    """Apply EXIF orientation; a corrupt EXIF block is ignored (the pixels are fine)."""
    try:
        return ImageOps.exif_transpose(im)
    except _PILLOW_ERRORS as e:
        log.info("ignoring unreadable EXIF orientation (%s)", type(e).__name__)
        return im


def _plausible_dpi(im: Image.Image) -> tuple[tuple[float, float], bool]:
    """Return the image's (x, y) DPI and whether it was guessed."""
    try:
        raw = im.info.get("dpi")
        x, y = (float(v) for v in raw) if raw else (0.0, 0.0)
    except (TypeError, ValueError, ZeroDivisionError):
        x = y = 0.0
    longest = max(im.size)
    for v in (x, y):
        if not math.isfinite(v) or not _MIN_PLAUSIBLE_DPI <= v <= _MAX_PLAUSIBLE_DPI:
            return (GUESSED_DPI, GUESSED_DPI), True
    if longest / min(x, y) > _MAX_PLAUSIBLE_PAGE_INCHES:
        return (GUESSED_DPI, GUESSED_DPI), True
    return (x, y), False


def _to_ocr_mode(im: Image.Image) -> Image.Image:
    """Convert to ``1``, ``L`` or ``RGB``; flatten transparency onto white."""
    mode = im.mode
    if mode in ("1", "L", "RGB"):
        return im.copy() if im.readonly else im
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _deep_grey_to_l(im)
    if mode == "P":
        has_alpha = "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


def _deep_grey_to_l(im: Image.Image) -> Image.Image:
    """16/32-bit greyscale to 8 bits: scale by the bit depth, not by clipping."""
    as_i = im.convert("I") if im.mode != "F" else im
    _, high = as_i.getextrema()
    if high is not None and high > 255:
        divisor = 256.0 if high <= 65535 else float(high) / 255.0
        as_i = as_i.point(lambda v: v / divisor)
    return as_i.convert("L")


def _decode_message(e: BaseException, index: int) -> str:
    where = f"第 {index + 1} 页" if index else "图像"
    text = str(e).lower()
    if "truncated" in text or isinstance(e, EOFError):
        return f"{where}数据不完整（文件被截断）"
    return f"{where}数据损坏，无法解码：{_reason(e)}"


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:120]
