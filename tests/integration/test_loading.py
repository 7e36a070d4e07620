"""load_document on real files generated here: images of every awkward kind, and PDFs.

Nothing is mocked: Pillow decodes, pypdf and pdfium read and render.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from config import load_settings
from ingest.detect import FormatKind
from ingest.errors import CorruptFileError, EncryptedFileError, TooLargeError
from ingest.loading import Limits, LoadedDocument, load_document
from ingest.pdfin import MIN_TEXT_CHARS, meaningful_text, normalize_text
from ingest.pdfout import pdf_from_objects

LIMITS = Limits()
LICENSE_TEXT = (
    "Business License  Unified Social Credit Code 91110000100000000X  "
    "Name: Beijing Test Technology Co., Ltd."
)


def _load(path: Path, tmp_path: Path, limits: Limits = LIMITS) -> LoadedDocument:
    return load_document(path, limits=limits, work_dir=tmp_path / "work")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- building sample PDFs by hand --------------------------------------------------------------


def _pdf_bytes(page_texts: list[str], *, size: tuple[float, float] = (595, 842)) -> bytes:
    """A small valid PDF: one page per entry, each showing its text in Helvetica."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: pages (filled below)
    font_id = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for text in page_texts:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 11 Tf 40 780 Td ({escaped}) Tj ET".encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (*size, content_id, font_id)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    return pdf_from_objects(objects)


def _write_pdf(path: Path, page_texts: list[str]) -> Path:
    path.write_bytes(_pdf_bytes(page_texts))
    return path


def _blank_pdf(path: Path, *, pages: int, width: float = 595, height: float = 842) -> Path:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=width, height=height)
    with open(path, "wb") as f:
        writer.write(f)
    return path


# --- text helpers ------------------------------------------------------------------------------


def test_normalize_text_strips_nuls_and_collapses_whitespace() -> None:
    raw = "\x00营\x00业\x00执\x00照\r\n\r\n\r\n\r\n名称：  测试\u3000公司 \t\n"
    assert normalize_text(raw) == "营业执照\n\n名称： 测试 公司"


def test_a_few_stray_glyphs_do_not_make_a_text_page() -> None:
    assert meaningful_text("Page 1 of 3 - fax") is None
    assert meaningful_text("   ") is None
    assert meaningful_text(None) is None
    chinese = "统一社会信用代码" * 3
    assert len(chinese) >= MIN_TEXT_CHARS
    assert meaningful_text(chinese) == chinese


# --- PDFs --------------------------------------------------------------------------------------


def test_text_pages_keep_their_text_and_image_pages_render(tmp_path: Path) -> None:
    pdf = _write_pdf(tmp_path / "in.pdf", [LICENSE_TEXT, "p. 2"])
    with _load(pdf, tmp_path) as doc:
        assert doc.format.kind is FormatKind.PDF
        assert doc.page_count == 2
        assert doc.pages[0].text is not None and "91110000100000000X" in doc.pages[0].text
        assert doc.pages[1].text is None  # "p. 2" is a stray glyph, not a text layer
        assert doc.source_pdf == pdf
        image = doc.render_page(1)
        assert image.mode == "RGB"
        assert image.size == pytest.approx((595 * 300 / 72, 842 * 300 / 72), abs=1.5)
        assert image.info["dpi"] == pytest.approx((300, 300))
        small = doc.render_page(0, dpi=100)
        assert small.width == pytest.approx(595 * 100 / 72, abs=1.5)
        assert small.info["dpi"] == pytest.approx((100, 100))
        with pytest.raises(IndexError):
            doc.render_page(2)


def test_huge_page_box_is_rendered_smaller_not_refused(tmp_path: Path) -> None:
    pdf = _blank_pdf(tmp_path / "poster.pdf", pages=1, width=14400, height=14400)
    limits = Limits(max_image_pixels=4_000_000)
    with _load(pdf, tmp_path, limits) as doc:
        image = doc.render_page(0)
    assert image.width * image.height <= 4_000_000
    assert image.width > 1500  # scaled down, not collapsed
    assert image.info["dpi"][0] < 300


def test_too_many_pages_is_refused(tmp_path: Path) -> None:
    pdf = _blank_pdf(tmp_path / "book.pdf", pages=4)
    with pytest.raises(TooLargeError, match="页数超过上限"):
        _load(pdf, tmp_path, Limits(max_pages=3))


def test_junk_before_pdf_header_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "scanner-output.bin"
    path.write_bytes(b"\x00\x01 scanner preamble \r\n" * 10 + _pdf_bytes([LICENSE_TEXT]))
    with _load(path, tmp_path) as doc:
        assert doc.format.kind is FormatKind.PDF
        assert doc.pages[0].text is not None and "Beijing" in doc.pages[0].text
        assert doc.render_page(0).width > 2000


def test_wrong_xref_offsets_are_repaired(tmp_path: Path) -> None:
    data = _pdf_bytes([LICENSE_TEXT, LICENSE_TEXT])
    head, _, _ = data.rpartition(b"startxref\n")
    path = tmp_path / "bad-xref.pdf"
    path.write_bytes(head + b"startxref\n999999\n%%EOF\n")
    with _load(path, tmp_path) as doc:
        assert doc.page_count == 2
        assert doc.pages[1].text is not None
        assert doc.render_page(1).mode == "RGB"


def test_pdf_only_pypdf_can_parse_is_resaved_for_pdfium(tmp_path: Path) -> None:
    # A misspelled "obj" keyword: pypdf (strict=False) copes, pdfium refuses the original.
    path = tmp_path / "typo.pdf"
    path.write_bytes(_pdf_bytes([LICENSE_TEXT]).replace(b"2 0 obj", b"2 0 ojb"))
    with _load(path, tmp_path) as doc:
        assert doc.source_pdf is not None and doc.source_pdf.parent == tmp_path / "work"
        assert doc.pages[0].text is not None and "Beijing" in doc.pages[0].text
        assert doc.render_page(0).width > 2000


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"/Kids [5 0 R]", b"/Kids 5 0 R"),  # pypdf refuses; pdfium opens, cannot load the page
        (b"/Kids [5 0 R] /Count 1", b"/Kids [5 0 R 99 0 R] /Count 2"),  # a page that is missing
    ],
)
def test_pdf_with_unloadable_pages_is_corrupt_at_load(
    tmp_path: Path, old: bytes, new: bytes
) -> None:
    data = _pdf_bytes([LICENSE_TEXT])
    assert old in data
    path = tmp_path / "broken-tree.pdf"
    path.write_bytes(data.replace(old, new))
    with pytest.raises(CorruptFileError, match="页无法读取"):
        _load(path, tmp_path)


def test_truncated_pdf_is_corrupt(tmp_path: Path) -> None:
    data = _pdf_bytes([LICENSE_TEXT] * 3)
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptFileError, match="PDF"):
        _load(path, tmp_path)


def _encrypted_pdf(path: Path, *, user_password: str, algorithm: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf_bytes([LICENSE_TEXT]))))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm)
    with open(path, "wb") as f:
        writer.write(f)
    return path


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_pdf_needing_a_user_password_is_refused(tmp_path: Path, algorithm: str) -> None:
    path = _encrypted_pdf(tmp_path / "locked.pdf", user_password="1234", algorithm=algorithm)
    with pytest.raises(EncryptedFileError, match="PDF 已加密，需要密码"):
        _load(path, tmp_path)


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_owner_password_only_pdf_is_decrypted_into_work_dir(tmp_path: Path, algorithm: str) -> None:
    path = _encrypted_pdf(tmp_path / "owner-only.pdf", user_password="", algorithm=algorithm)
    before = _sha256(path)
    with _load(path, tmp_path) as doc:
        assert doc.pages[0].text is not None and "91110000100000000X" in doc.pages[0].text
        assert doc.source_pdf is not None and doc.source_pdf.parent == tmp_path / "work"
        assert not PdfReader(doc.source_pdf).is_encrypted
        assert doc.render_page(0).size[0] > 2000
    assert _sha256(path) == before


# --- images ------------------------------------------------------------------------------------


def _save(image: Image.Image, path: Path, fmt: str, **params: object) -> Path:
    image.save(path, fmt, **params)
    return path


def test_multi_frame_tiff_pages_render_one_at_a_time(tmp_path: Path) -> None:
    frames = [Image.new("L", (300 + 10 * i, 400), 255 - i) for i in range(3)]
    path = tmp_path / "fax"
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    with _load(path, tmp_path) as doc:
        assert doc.format.kind is FormatKind.TIFF and doc.source_pdf is None
        assert [p.text for p in doc.pages] == [None, None, None]
        sizes = [doc.render_page(i).size for i in range(3)]
        assert sizes == [(300, 400), (310, 400), (320, 400)]
        assert doc.render_page(2).info["dpi"] == pytest.approx((200, 200))
        assert doc.render_page(2).info["dpi_guessed"] is False


def test_animated_gif_and_webp_give_their_first_frame_only(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (40, 30), c) for c in ("red", "green", "blue")]
    for fmt in ("GIF", "WEBP"):
        path = tmp_path / f"anim.{fmt.lower()}"
        frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100)
        with _load(path, tmp_path) as doc:
            assert doc.page_count == 1
            first = doc.render_page(0).convert("RGB").getpixel((5, 5))
            assert first[0] > 200 and first[1] < 60  # red


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = _save(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), tmp_path / "c.jpg", "JPEG")
    with _load(path, tmp_path) as doc:
        image = doc.render_page(0)
    assert image.mode == "RGB"
    red, green, _ = image.getpixel((10, 10))
    assert red > 200 and green < 60


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    deep = Image.new("I;16", (256, 4))
    deep.putdata([x * 256 for x in range(256)] * 4)
    path = _save(deep, tmp_path / "deep.png", "PNG")
    with _load(path, tmp_path) as doc:
        image = doc.render_page(0)
    assert image.mode == "L"
    assert image.getpixel((0, 0)) == 0
    assert 120 <= image.getpixel((128, 0)) <= 136  # mid-grey stays mid-grey
    assert image.getpixel((255, 0)) >= 250


def test_palette_with_transparency_is_flattened_on_white(tmp_path: Path) -> None:
    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (10, 0, 20, 20))
    path = _save(image, tmp_path / "p.png", "PNG", transparency=0)
    with _load(path, tmp_path) as doc:
        page = doc.render_page(0)
    assert page.mode == "RGB"
    assert page.getpixel((2, 2)) == (255, 255, 255)  # transparent -> white, not black
    assert page.getpixel((15, 2)) == (255, 0, 0)


def test_g4_tiff_stays_bilevel_with_its_dpi(tmp_path: Path) -> None:
    page = Image.new("1", (1700, 2200), 1)
    page.paste(0, (100, 100, 1600, 140))
    path = _save(page, tmp_path / "g4.tif", "TIFF", compression="group4", dpi=(200, 200))
    with _load(path, tmp_path) as doc:
        image = doc.render_page(0)
    assert image.mode == "1" and image.size == (1700, 2200)
    assert image.info["dpi"] == pytest.approx((200, 200))
    assert image.getpixel((500, 120)) == 0


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _save(Image.new("RGB", (80, 40), "white"), tmp_path / "phone.jpg", "JPEG", exif=exif)
    with _load(path, tmp_path) as doc:
        assert doc.render_page(0).size == (40, 80)


@pytest.mark.parametrize(
    ("size", "dpi", "expected", "guessed"),
    [
        ((1240, 1754), None, (300, 300), True),  # no DPI recorded
        ((4000, 3000), (72, 72), (300, 300), True),  # 72 dpi would make a 55-inch page
        ((1654, 2339), (200, 200), (200, 200), False),  # A4 at 200 dpi: believable
        ((1000, 1000), (1, 1), (300, 300), True),  # absurd
    ],
)
def test_dpi_is_recorded_or_guessed(
    tmp_path: Path,
    size: tuple[int, int],
    dpi: tuple[int, int] | None,
    expected: tuple[int, int],
    guessed: bool,
) -> None:
    params = {"dpi": dpi} if dpi else {}
    path = _save(Image.new("L", size, 255), tmp_path / "scan.png", "PNG", **params)
    with _load(path, tmp_path) as doc:
        image = doc.render_page(0)
    assert image.info["dpi"] == pytest.approx(expected, abs=0.5)
    assert image.info["dpi_guessed"] is guessed


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in IHDR and carries (almost) no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "size",
    [
        (12_000, 12_000),  # 144 MP: under Pillow's own refusal, over our 100 MP limit
        (60_000, 60_000),  # 3.6 GP: Pillow refuses at open
    ],
)
def test_decompression_bomb_is_refused_before_decoding(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(*size))
    with pytest.raises(TooLargeError, match="图像像素超过上限"):
        _load(path, tmp_path)


def test_explicit_pixel_limit_applies_to_every_tiff_frame(tmp_path: Path) -> None:
    small, big = Image.new("1", (500, 500), 1), Image.new("1", (2000, 2000), 1)
    path = tmp_path / "mixed.tif"
    small.save(path, "TIFF", save_all=True, append_images=[big], compression="group4")
    with _load(path, tmp_path, Limits(max_image_pixels=1_000_000)) as doc:
        assert doc.render_page(0).size == (500, 500)
        with pytest.raises(TooLargeError, match="图像像素超过上限"):
            doc.render_page(1)


def test_too_many_tiff_frames_is_refused(tmp_path: Path) -> None:
    frames = [Image.new("1", (10, 10), 1) for _ in range(4)]
    path = tmp_path / "many.tif"
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(TooLargeError, match="页数超过上限"):
        _load(path, tmp_path, Limits(max_pages=3))


def test_truncated_jpeg_is_corrupt_with_a_specific_message(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.effect_noise((400, 300), 60).save(buf, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with _load(path, tmp_path) as doc, pytest.raises(CorruptFileError, match="截断"):
        doc.render_page(0)


def test_file_size_limit_is_checked_first(tmp_path: Path) -> None:
    path = _write_pdf(tmp_path / "big.pdf", [LICENSE_TEXT])
    with pytest.raises(TooLargeError, match="文件大小超过上限"):
        _load(path, tmp_path, Limits(max_file_bytes=100))


def test_limits_from_settings(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home", max_file_mb=5, max_pages=7)
    limits = Limits.from_settings(settings)
    assert limits.max_file_bytes == 5 * 1024 * 1024
    assert limits.max_pages == 7
    assert limits.max_image_pixels == settings.max_image_pixels
    assert limits.dpi == settings.target_dpi
