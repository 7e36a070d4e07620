"""Format detection by content: magic bytes, zip and OLE2 directories, clear refusals."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from ingest.detect import FormatKind, detect_format, read_ole_stream_names
from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    UnsupportedFormatError,
)


def _image_bytes(fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    mode = "RGB" if fmt not in ("GIF",) else "P"
    Image.new(mode, (8, 6), "white" if mode == "RGB" else 0).save(buf, fmt, **params)
    return buf.getvalue()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("pil_format", "kind", "mime"),
    [
        ("JPEG", FormatKind.JPEG, "image/jpeg"),
        ("PNG", FormatKind.PNG, "image/png"),
        ("TIFF", FormatKind.TIFF, "image/tiff"),
        ("BMP", FormatKind.BMP, "image/bmp"),
        ("WEBP", FormatKind.WEBP, "image/webp"),
        ("GIF", FormatKind.GIF, "image/gif"),
        ("JPEG2000", FormatKind.JP2, "image/jp2"),
    ],
)
def test_images_are_detected_by_content_not_name(
    tmp_path: Path, pil_format: str, kind: FormatKind, mime: str
) -> None:
    # A misleading name on purpose: the extension must not matter.
    path = _write(tmp_path, "扫描件.pdf", _image_bytes(pil_format))
    detected = detect_format(path)
    assert detected.kind is kind
    assert detected.mime == mime
    assert detected.is_image and not detected.is_pdf


def test_big_endian_tiff_and_bigtiff_headers(tmp_path: Path) -> None:
    assert detect_format(_write(tmp_path, "a", b"MM\x00*" + b"\x00" * 40)).kind is FormatKind.TIFF
    assert detect_format(_write(tmp_path, "b", b"II+\x00" + b"\x00" * 40)).kind is FormatKind.TIFF


def test_pdf_with_junk_before_header_within_1024_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.jpg", b"\x00junk from a scanner\r\n" * 20 + b"%PDF-1.7\n%%EOF\n")
    detected = detect_format(path)
    assert detected.kind is FormatKind.PDF
    assert (detected.mime, detected.ext) == ("application/pdf", ".pdf")


def test_pdf_header_after_1024_bytes_is_not_a_pdf(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.pdf", b"a" * 1100 + b"%PDF-1.7\n")
    with pytest.raises(UnsupportedFormatError, match="无法识别的文件内容"):
        detect_format(path)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(EmptyFileError, match="文件为空"):
        detect_format(_write(tmp_path, "empty.pdf", b""))


def _zip(entries: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in entries.items():
            z.writestr(name, text)
    return buf.getvalue()


def test_docx_and_xlsx_by_zip_directory(tmp_path: Path) -> None:
    docx = _zip({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"})
    xlsx = _zip({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<x/>"})
    assert detect_format(_write(tmp_path, "a.zip", docx)).kind is FormatKind.DOCX
    detected = detect_format(_write(tmp_path, "b.bin", xlsx))
    assert detected.kind is FormatKind.XLSX and detected.ext == ".xlsx" and detected.is_office


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"readme.txt": "hi"}, "不支持的文件格式：ZIP 压缩包"),
        ({"[Content_Types].xml": "<T/>", "ppt/presentation.xml": "<p/>"}, "PowerPoint"),
        ({"OFD.xml": "<ofd/>"}, "OFD"),
        ({"mimetype": "x", "content.xml": "<c/>"}, "OpenDocument"),
    ],
)
def test_other_zips_are_refused_with_a_specific_message(
    tmp_path: Path, entries: dict[str, str], message: str
) -> None:
    path = _write(tmp_path, "x.docx", _zip(entries))
    with pytest.raises(UnsupportedFormatError) as info:
        detect_format(path)
    assert message in info.value.message


def test_unreadable_zip_is_corrupt(tmp_path: Path) -> None:
    data = _zip({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>" * 200})
    with pytest.raises(CorruptFileError, match="ZIP"):
        detect_format(_write(tmp_path, "cut.docx", data[: len(data) // 2]))


def _ole(names: list[str]) -> bytes:
    """A minimal valid OLE2 file (512-byte sectors): header, one FAT sector, one directory."""
    sector = 512
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHH", header, 24, 0x3E, 3, 0xFFFE)
    struct.pack_into("<HH", header, 30, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # one FAT sector
    struct.pack_into("<I", header, 48, 1)  # directory starts at sector 1
    struct.pack_into("<I", header, 60, 0xFFFFFFFE)
    struct.pack_into("<I", header, 68, 0xFFFFFFFE)  # no DIFAT sectors
    difat = [0] + [0xFFFFFFFF] * 108  # FAT lives in sector 0
    struct.pack_into("<109I", header, 76, *difat)
    fat = [0xFFFFFFFD, 0xFFFFFFFE] + [0xFFFFFFFF] * (sector // 4 - 2)
    directory = bytearray(sector)
    for i, name in enumerate(["Root Entry", *names][:4]):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        entry = i * 128
        directory[entry : entry + len(raw)] = raw
        struct.pack_into("<H", directory, entry + 64, len(raw))
        directory[entry + 66] = 5 if i == 0 else 2
    return bytes(header) + struct.pack(f"<{sector // 4}I", *fat) + bytes(directory)


@pytest.mark.parametrize(
    ("names", "kind"),
    [
        (["WordDocument", "1Table"], FormatKind.DOC),
        (["Workbook"], FormatKind.XLS),
        (["Book"], FormatKind.XLS),  # Excel 5/95
    ],
)
def test_ole2_word_and_excel_by_stream_names(
    tmp_path: Path, names: list[str], kind: FormatKind
) -> None:
    path = _write(tmp_path, "legacy", _ole(names))
    assert read_ole_stream_names(path)[0] == "Root Entry"
    assert detect_format(path).kind is kind


def test_password_protected_office_file_is_encrypted(tmp_path: Path) -> None:
    path = _write(tmp_path, "secret.docx", _ole(["EncryptionInfo", "EncryptedPackage"]))
    with pytest.raises(EncryptedFileError, match="已加密"):
        detect_format(path)


def test_other_ole2_files_are_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError, match="PowerPoint"):
        detect_format(_write(tmp_path, "p.ppt", _ole(["PowerPoint Document"])))
    with pytest.raises(UnsupportedFormatError, match="OLE"):
        detect_format(_write(tmp_path, "m.msg", _ole(["__properties_version1.0"])))


def test_truncated_ole2_directory_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptFileError, match="OLE"):
        detect_format(_write(tmp_path, "cut.doc", _ole(["WordDocument"])[:700]))


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
        (b"Rar!\x1a\x07\x01\x00", "RAR"),
        (b"DDS |\x00\x00\x00", "DDS"),
        (b"{\\rtf1\\ansi", "RTF"),
        (b"<!DOCTYPE html><html>", "HTML"),
        (b"BM\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00", "无法识别"),
        ("营业执照 plain text".encode(), "无法识别的文件内容"),
    ],
)
def test_unsupported_content_names_what_it_is(tmp_path: Path, head: bytes, message: str) -> None:
    with pytest.raises(UnsupportedFormatError) as info:
        detect_format(_write(tmp_path, "file.jpg", head + b"\x00" * 64))
    assert message in info.value.message
    assert info.value.message.startswith(("不支持的文件格式：", "无法识别的文件内容"))
