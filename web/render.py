"""Page images of a document's PDF, rendered with pypdfium2 and cached in the object store.

A page is rendered once and stored under ``cache/pages/<pdf sha256>/<n>.png`` (``n`` from 1),
and a queue thumbnail of the first page under ``cache/thumbs/<sha256>.png``,
so a second view reads the cached PNG instead of rendering again. The cache is derived data:
deleting the ``cache/`` prefix is always safe.
"""

from __future__ import annotations

import hashlib
import io
import logging

import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from archive.errors import ChecksumMismatchError, ObjectNotFoundError
from archive.storage.base import ObjectStore
from web.errors import RenderError

log = logging.getLogger(__name__)

CACHE_PREFIX = "cache/pages"
DEFAULT_DPI = 150
PNG_CONTENT_TYPE = "image/png"


def page_cache_key(*, pdf_sha256: str, page: int) -> str:
    """The object key of a cached page image (``page`` counts from 1)."""
    return f"{CACHE_PREFIX}/{pdf_sha256}/{page}.png"


def render_pdf_page(pdf_bytes: bytes, *, page: int, dpi: int = DEFAULT_DPI) -> bytes:
    """Render one page (from 1) of a PDF to PNG bytes.

    Raises:
        RenderError: The PDF cannot be read or has no such page.
    """
    try:
        pdf = pdfium.PdfDocument(pdf_bytes)
    except pdfium.PdfiumError as e:
        raise RenderError("无法读取PDF文件", page=page) from e
    try:
        if not 1 <= page <= len(pdf):
            raise RenderError(f"PDF没有第 {page} 页", page=page)
        image = pdf[page - 1].render(scale=dpi / 72).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=3)
        return out.getvalue()
    except pdfium.PdfiumError as e:
        raise RenderError(f"第 {page} 页无法渲染", page=page) from e
    finally:
        pdf.close()


def _read_cached(store: ObjectStore, key: str) -> bytes | None:
    try:
        with store.open(key, verify=True) as stream:
            return stream.read()
    except ObjectNotFoundError:
        return None


def page_image(
    store: ObjectStore, *, pdf_key: str, pdf_sha256: str, page: int, dpi: int = DEFAULT_DPI
) -> bytes:
    """PNG bytes of one page of a stored PDF, from the cache or rendered and cached now.

    Args:
        store: The object store holding the PDF and the cache.
        pdf_key: Key of the normalized PDF.
        pdf_sha256: Its recorded SHA-256 (names the cache folder; the PDF is verified).
        page: Page number, from 1.
        dpi: Rendering resolution for a cache miss.

    Raises:
        RenderError: The page cannot be rendered.
        ObjectNotFoundError: The PDF is missing.
        ChecksumMismatchError: The PDF's bytes differ from ``pdf_sha256``.
    """
    key = page_cache_key(pdf_sha256=pdf_sha256, page=page)
    cached = _read_cached(store, key)
    if cached is not None:
        return cached
    with store.open(pdf_key, verify=True) as stream:
        pdf_bytes = stream.read()
    actual = hashlib.sha256(pdf_bytes).hexdigest()
    if actual != pdf_sha256:
        raise ChecksumMismatchError(
            f"校验和不一致: {pdf_key}",
            key=pdf_key,
            expected_sha256=pdf_sha256,
            actual_sha256=actual,
        )
    png = render_pdf_page(pdf_bytes, page=page, dpi=dpi)
    store.put(key, io.BytesIO(png), content_type=PNG_CONTENT_TYPE)
    log.info("rendered page %d of %s into the cache", page, pdf_sha256[:12])
    return png


# --- queue thumbnails --------------------------------------------------------------------------

THUMB_PREFIX = "cache/thumbs"
#: Pixel width of a thumbnail: the queue shows it in a 64 CSS px box, sharp on a 2x screen.
THUMB_WIDTH = 128
#: Original files a thumbnail can be drawn from when a document has no PDF.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif")


def thumbnail_cache_key(*, sha256: str) -> str:
    """The object key of a cached first-page thumbnail of the file with ``sha256``."""
    return f"{THUMB_PREFIX}/{sha256}.png"


def render_thumbnail(data: bytes, *, is_pdf: bool, width: int = THUMB_WIDTH) -> bytes:
    """A PNG ``width`` pixels wide of a PDF's first page or an image's first frame.

    Raises:
        RenderError: The file cannot be read.
    """
    if is_pdf:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as e:
            raise RenderError("无法读取PDF文件", page=1) from e
        try:
            if len(pdf) == 0:
                raise RenderError("PDF没有页面", page=1)
            page = pdf[0]
            image = page.render(scale=width / max(1.0, page.get_width())).to_pil()
        except pdfium.PdfiumError as e:
            raise RenderError("第 1 页无法渲染", page=1) from e
        finally:
            pdf.close()
    else:
        try:
            image = Image.open(io.BytesIO(data))
            image.seek(0)
            image = image.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError) as e:
            raise RenderError("无法读取图像文件", page=1) from e
        image.thumbnail((width, width * 4))
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def thumbnail_image(store: ObjectStore, *, key: str, sha256: str, is_pdf: bool) -> bytes:
    """The first-page thumbnail of a stored file, from the cache or drawn and cached now.

    Raises:
        RenderError: The file cannot be drawn.
        ObjectNotFoundError: The file is missing.
        ChecksumMismatchError: Its bytes differ from ``sha256``.
    """
    cache_key = thumbnail_cache_key(sha256=sha256)
    cached = _read_cached(store, cache_key)
    if cached is not None:
        return cached
    with store.open(key, verify=True) as stream:
        data = stream.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ChecksumMismatchError(
            f"校验和不一致: {key}", key=key, expected_sha256=sha256, actual_sha256=actual
        )
    png = render_thumbnail(data, is_pdf=is_pdf)
    store.put(cache_key, io.BytesIO(png), content_type=PNG_CONTENT_TYPE)
    log.info("drew the thumbnail of %s into the cache", sha256[:12])
    return png
