"""Reading PDFs safely: page count, existing text layers, and one-page-at-a-time rendering.

pypdf checks the structure and encryption; pypdfium2 extracts text and renders pages (it
decodes JBIG2, CCITT and JPEG 2000 itself, so ``jbig2dec`` is only needed when pypdf extracts
images). pypdfium2 is not thread-safe: use one document per process (the pipeline isolates
each file in a child process anyway).

Encryption: a PDF with an empty user password (only an owner password, e.g. "no printing") is
decrypted and read, and a decrypted copy is written to the work folder so later steps never need
a password. A PDF that needs a user password raises :class:`EncryptedFileError`.

Damage: pypdf is tried first with ``strict=False`` (it rebuilds a broken xref); if it cannot
read the file, pdfium is tried, and a copy re-saved by pdfium (fresh xref) becomes the source
PDF. If neither can read it, :class:`CorruptFileError`.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image
from pypdf import PasswordType, PdfReader, PdfWriter

from ingest.errors import CorruptFileError, EncryptedFileError, IngestError, TooLargeError

log = logging.getLogger(__name__)

MIN_TEXT_CHARS = 20
"""A page counts as a text page when its text layer has at least this many letters or digits
(CJK characters count as letters). Fewer are stray glyphs (a page number, a fax header), and the
page is treated as image-only and rendered for OCR."""

_HSPACE = re.compile(r"[ \t\f\v\u00a0\u3000]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class PdfContent:
    """What was read from a PDF.

    Attributes:
        path: The PDF to render and to take text pages from: the input itself, or a decrypted
            or repaired copy in the work folder.
        page_texts: Per page, the normalized text layer, or None for an image-only page.
    """

    path: Path
    page_texts: list[str | None] = field(default_factory=list)

    @property
    def page_count(self) -> int:
        return len(self.page_texts)


def normalize_text(raw: str) -> str:
    """Normalize extracted text: NFC, NULs removed, spaces collapsed, lines trimmed.

    Args:
        raw: Text as a PDF library extracted it.

    Returns:
        The cleaned text (possibly empty).
    """
    text = unicodedata.normalize("NFC", raw.replace("\x00", ""))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = (_HSPACE.sub(" ", line).strip() for line in text.split("\n"))
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def meaningful_text(raw: str | None) -> str | None:
    """Return the normalized text if it has ``MIN_TEXT_CHARS`` letters/digits, else None."""
    if not raw:
        return None
    text = normalize_text(raw)
    real = sum(1 for c in text if c.isalnum())
    return text if real >= MIN_TEXT_CHARS else None


def read_pdf(path: Path, *, max_pages: int, work_dir: Path) -> PdfContent:
    """Open a PDF, check it, and read its text layer page by page.

    pypdf checks structure and encryption (and repairs what it can); pdfium, which is about
    ten times faster, extracts the text.

    Args:
        path: The PDF.
        max_pages: Refuse documents with more pages than this.
        work_dir: Where a decrypted or repaired copy may be written.

    Returns:
        The PDF to use from now on and each page's text (None for image-only pages).

    Raises:
        EncryptedFileError: A user password is needed.
        CorruptFileError: Neither pypdf nor pdfium can read it, or it has no pages.
        TooLargeError: More pages than ``max_pages``.
    """
    source = _readable_source(path, max_pages=max_pages, work_dir=work_dir)
    try:
        doc = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as e:
        raise CorruptFileError("PDF 文件已损坏，页面无法渲染") from e
    try:
        _check_page_count(len(doc), max_pages)
        texts = [_pdfium_page_text(doc, i) for i in range(len(doc))]
    finally:
        doc.close()
    return PdfContent(path=source, page_texts=texts)


def _readable_source(path: Path, *, max_pages: int, work_dir: Path) -> Path:
    """Return a PDF both pypdf and pdfium can open: the input, or a copy in ``work_dir``."""
    try:
        reader = _open_with_pypdf(path)
    except IngestError:
        raise
    except Exception as e:  # pypdf raises many types on damaged input
        log.info("pypdf could not read %s (%s); trying pdfium", path.name, type(e).__name__)
        return _repair_with_pdfium(path, work_dir=work_dir, cause=e)
    _check_page_count(len(reader.pages), max_pages)
    if reader.is_encrypted:
        return _write_pypdf_copy(reader, work_dir, name="decrypted.pdf")
    if not _pdfium_can_open(path):
        return _write_pypdf_copy(reader, work_dir, name="repaired.pdf")
    return path


def _open_with_pypdf(path: Path) -> PdfReader:
    reader = PdfReader(path, strict=False)
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise EncryptedFileError("PDF 已加密，需要密码")
    _ = len(reader.pages)  # forces the page tree: damage shows here, not later
    return reader


def _check_page_count(count: int, max_pages: int) -> None:
    if count == 0:
        raise CorruptFileError("PDF 没有任何页面")
    if count > max_pages:
        raise TooLargeError(f"PDF 页数超过上限（{count} 页，上限 {max_pages} 页）")


def _write_pypdf_copy(reader: PdfReader, work_dir: Path, *, name: str) -> Path:
    out = _unique_path(work_dir, name)
    try:
        writer = PdfWriter(clone_from=reader)
        with open(out, "wb") as f:
            writer.write(f)
    except Exception as e:  # pypdf raises many types on damaged input
        raise CorruptFileError("PDF 文件已损坏，无法重新保存") from e
    if not _pdfium_can_open(out):
        raise CorruptFileError("PDF 文件已损坏，页面无法渲染")
    return out


def _pdfium_can_open(path: Path) -> bool:
    try:
        doc = pdfium.PdfDocument(path)
    except pdfium.PdfiumError:
        return False
    doc.close()
    return True


def _repair_with_pdfium(path: Path, *, work_dir: Path, cause: Exception) -> Path:
    """pdfium rebuilds what pypdf cannot; its re-saved copy has a fresh xref."""
    try:
        doc = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise EncryptedFileError("PDF 已加密，需要密码") from e
        raise CorruptFileError("PDF 文件已损坏，无法读取") from cause
    repaired = _unique_path(work_dir, "repaired.pdf")
    try:
        doc.save(repaired)
    except pdfium.PdfiumError as e:
        raise CorruptFileError("PDF 文件已损坏，无法修复") from e
    finally:
        doc.close()
    return repaired


def _pdfium_page_text(doc: pdfium.PdfDocument, index: int) -> str | None:
    """A page that cannot be loaded makes the file corrupt; a page without text is None."""
    try:
        page = doc[index]
    except pdfium.PdfiumError as e:
        raise CorruptFileError(f"PDF 第 {index + 1} 页无法读取") from e
    try:
        textpage = page.get_textpage()
        try:
            return meaningful_text(textpage.get_text_range())
        finally:
            textpage.close()
    except pdfium.PdfiumError as e:
        log.info("no text from page %d (%s)", index + 1, e)
        return None
    finally:
        page.close()


def _unique_path(work_dir: Path, name: str) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    candidate = work_dir / name
    n = 1
    while candidate.exists():
        n += 1
        candidate = work_dir / f"{Path(name).stem}-{n}{Path(name).suffix}"
    return candidate


class PdfPageRenderer:
    """Renders one PDF page at a time with pdfium; keeps only the parsed document open.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: Path, *, max_image_pixels: int) -> None:
        self._path = path
        self._max_pixels = max_image_pixels
        self._doc: pdfium.PdfDocument | None = None

    def render(self, index: int, *, dpi: int) -> Image.Image:
        """Render page ``index`` (0-based) at ``dpi``, scaled down to fit the pixel limit.

        Args:
            index: Page index.
            dpi: Requested resolution.

        Returns:
            An RGB image with ``info["dpi"]`` set to the resolution actually used.

        Raises:
            CorruptFileError: pdfium cannot load or render the page.
        """
        doc = self._document()
        try:
            page = doc[index]
        except (pdfium.PdfiumError, IndexError) as e:
            raise CorruptFileError(f"PDF 第 {index + 1} 页无法读取") from e
        try:
            scale = self._scale(page.get_size(), dpi)
            image = page.render(scale=scale, may_draw_forms=True).to_pil()
        except pdfium.PdfiumError as e:
            raise CorruptFileError(f"PDF 第 {index + 1} 页无法渲染") from e
        finally:
            page.close()
        if image.mode != "RGB":
            image = image.convert("RGB")
        image.info["dpi"] = (72 * scale, 72 * scale)
        return image

    def _scale(self, size: tuple[float, float], dpi: int) -> float:
        width_pt, height_pt = (max(v, 1.0) for v in size)
        scale = dpi / 72
        pixels = width_pt * height_pt * scale * scale
        if pixels > self._max_pixels:
            scale = math.sqrt(self._max_pixels / (width_pt * height_pt))
            log.info("page too large at %d dpi; rendering at %.0f dpi", dpi, 72 * scale)
        return scale

    def _document(self) -> pdfium.PdfDocument:
        if self._doc is None:
            try:
                self._doc = pdfium.PdfDocument(self._path)
            except pdfium.PdfiumError as e:
                raise CorruptFileError("PDF 文件已损坏，页面无法渲染") from e
        return self._doc

    def close(self) -> None:
        """Release the pdfium document."""
        if self._doc is not None:
            self._doc.close()
            self._doc = None

    def __enter__(self) -> PdfPageRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
