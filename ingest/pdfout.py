"""The searchable PDF: each page image with an invisible OCR text layer, pages merged with pypdf.

As OCRmyPDF does it: img2pdf makes an image-only page (JPEG for grey and colour, CCITT G4 for
bilevel pages; page size from the image's DPI), tesseract's ``textonly_pdf=1`` output is laid
over it. Pages that already carry text in an input PDF are copied as they are, in page order.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import img2pdf
from PIL import Image, ImageChops, ImageStat
from pypdf import PageObject, PdfReader, PdfWriter, Transformation
from pypdf.errors import PyPdfError

from ingest.errors import CorruptFileError, IngestError, OcrError

log = logging.getLogger(__name__)

JPEG_QUALITY = 75
_GREY_MAX_CHROMA = 6.0  # mean |R-G| + |G-B| below this: store the page as greyscale


@dataclass(frozen=True)
class PagePdf:
    """One page to build: the page image and tesseract's text-only PDF (None: image only)."""

    image: Image.Image
    text_pdf: bytes | None = None


@dataclass(frozen=True)
class KeptPage:
    """A page copied unchanged from an input PDF (it already has a text layer)."""

    source: Path
    page_index: int


def build_searchable_pdf(pages: Sequence[PagePdf | KeptPage], out: Path) -> Path:
    """Write one PDF from OCR'd page images and, for mixed PDFs, kept input pages, in order.

    Args:
        pages: In output order; ``PagePdf`` for scanned pages, ``KeptPage`` for input pages
            whose text layer is kept.
        out: Destination; written to a temporary name first, then renamed.

    Returns:
        ``out``.

    Raises:
        OcrError: A text layer could not be read.
        CorruptFileError: A kept input page could not be read.
        IngestError: No pages, or the PDF could not be written.
    """
    if not pages:
        raise IngestError("没有可写入 PDF 的页面")
    writer = PdfWriter()
    readers: dict[Path, PdfReader] = {}
    for page in pages:
        if isinstance(page, KeptPage):
            writer.add_page(_kept_page(page, readers))
        else:
            add_searchable_page(writer, page)
    writer.add_metadata({"/Producer": "dossier"})
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    return _write_atomically(writer, Path(out))


def build_image_pdf(images: Sequence[Image.Image], out: Path) -> Path:
    """An image-only PDF (no text layer), e.g. when OCR is not wanted."""
    return build_searchable_pdf([PagePdf(image=im) for im in images], out)


def add_searchable_page(writer: PdfWriter, page: PagePdf) -> PageObject:
    """Append the image page with the text layer merged over it (scaled if the sizes differ)."""
    try:
        text = PdfReader(io.BytesIO(page.text_pdf)).pages[0] if page.text_pdf else None
    except (PyPdfError, IndexError, ValueError) as e:
        raise OcrError("文字层 PDF 无法读取") from e
    base = writer.add_page(PdfReader(io.BytesIO(image_page_pdf(page.image))).pages[0])
    if text is None:
        return base
    sx = float(base.mediabox.width) / float(text.mediabox.width)
    sy = float(base.mediabox.height) / float(text.mediabox.height)
    if abs(sx - 1) < 0.002 and abs(sy - 1) < 0.002:
        base.merge_page(text)
    else:
        base.merge_transformed_page(text, Transformation().scale(sx, sy))
    return base


def image_page_pdf(image: Image.Image) -> bytes:
    """A one-page, image-only PDF made by img2pdf; page size from ``image.info["dpi"]``."""
    data = encode_page_image(image)
    dpi = image_dpi(image)
    layout = img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))
    try:
        return img2pdf.convert(data, layout_fun=layout)
    except (img2pdf.ImageOpenError, ValueError) as e:
        raise IngestError(f"页面图像无法写入 PDF：{e}") from e


def encode_page_image(image: Image.Image) -> bytes:
    """Compress a page: CCITT G4 TIFF for bilevel, JPEG (grey when colourless) otherwise."""
    dpi = image_dpi(image)
    buf = io.BytesIO()
    if image.mode == "1" or (image.mode == "L" and _is_bilevel(image)):
        image.convert("1", dither=None).save(buf, "TIFF", compression="group4", dpi=(dpi, dpi))
        return buf.getvalue()
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if image.mode == "RGB" and _is_colourless(image):
        image = image.convert("L")
    image.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True, dpi=(dpi, dpi))
    return buf.getvalue()


def image_dpi(image: Image.Image, default: int = 300) -> int:
    """The resolution ``image.info["dpi"]`` gives (a pair or one number); ``default`` if none."""
    dpi = image.info.get("dpi", default)
    try:
        value = float((dpi[0] if isinstance(dpi, tuple) else dpi) or default)
    except (TypeError, ValueError, IndexError):
        value = float(default)
    return max(1, round(value))


def pdf_from_objects(objects: Sequence[bytes]) -> bytes:
    """A PDF file from its objects' bodies, numbered from 1 (object 1 is the catalog).

    For PDFs written byte by byte (a text layer, test and benchmark files): header, the
    objects, the cross-reference table and the trailer.
    """
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def _is_bilevel(image: Image.Image) -> bool:
    hist = image.histogram()
    return sum(hist[1:255]) == 0


def _is_colourless(image: Image.Image) -> bool:
    small = image.reduce(8) if min(image.size) >= 8 else image  # box average: fast
    r, g, b = small.split()
    chroma = ImageStat.Stat(ImageChops.difference(r, g)).mean[0]
    chroma += ImageStat.Stat(ImageChops.difference(g, b)).mean[0]
    return chroma < _GREY_MAX_CHROMA and _has_no_colour_patches(small)


def _has_no_colour_patches(small: Image.Image) -> bool:
    """A red seal covers little of the page but must stay red."""
    r, g, _ = small.split()
    redness = ImageChops.subtract(r, g)
    hist = redness.histogram()
    return sum(hist[60:]) < 0.0005 * small.width * small.height


def _kept_page(page: KeptPage, readers: dict[Path, PdfReader]) -> PageObject:
    try:
        reader = readers.get(page.source) or PdfReader(page.source)
        readers[page.source] = reader
        return reader.pages[page.page_index]
    except (PyPdfError, OSError, IndexError, ValueError) as e:
        raise CorruptFileError(
            f"无法读取原 PDF 的第 {page.page_index + 1} 页", page=page.page_index + 1) from e


def _write_atomically(writer: PdfWriter, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    try:
        with tmp.open("wb") as fh:
            writer.write(fh)
        os.replace(tmp, out)
    except (OSError, PyPdfError) as e:
        tmp.unlink(missing_ok=True)
        raise IngestError(f"PDF 写入失败：{e}") from e
    log.debug("wrote %s (%d pages)", out.name, len(writer.pages))
    return out
