"""Format detection by content (magic bytes), never by file name.

Supported kinds: JPEG, PNG, TIFF (also BigTIFF), BMP, WebP, GIF, JPEG 2000 (JP2 container and
raw codestream; Pillow here is built with OpenJPEG), PDF (also with junk before ``%PDF-`` in the
first 1024 bytes), Word and Excel (OOXML zip or OLE2 compound file). Anything else raises
:class:`UnsupportedFormatError` with a message naming what the file looks like, so a clerk
knows what to do (e.g. export a HEIC photo as JPEG).

The OLE2 reader below is deliberately tiny: it follows the directory chain through the FAT
(with DIFAT sectors) only far enough to read stream names. It never reads stream contents.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    UnsupportedFormatError,
)

_HEAD_BYTES = 1024
_PDF_MAGIC = b"%PDF-"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BMP_DIB_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


class FormatKind(StrEnum):
    """Stable names of the formats dossier reads."""

    JPEG = "jpeg"
    PNG = "png"
    TIFF = "tiff"
    BMP = "bmp"
    WEBP = "webp"
    GIF = "gif"
    JP2 = "jp2"
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    DOC = "doc"
    XLS = "xls"


IMAGE_KINDS = frozenset(
    {
        FormatKind.JPEG,
        FormatKind.PNG,
        FormatKind.TIFF,
        FormatKind.BMP,
        FormatKind.WEBP,
        FormatKind.GIF,
        FormatKind.JP2,
    }
)
OFFICE_KINDS = frozenset({FormatKind.DOCX, FormatKind.XLSX, FormatKind.DOC, FormatKind.XLS})

_MIME_AND_EXT: dict[FormatKind, tuple[str, str]] = {
    FormatKind.JPEG: ("image/jpeg", ".jpg"),
    FormatKind.PNG: ("image/png", ".png"),
    FormatKind.TIFF: ("image/tiff", ".tif"),
    FormatKind.BMP: ("image/bmp", ".bmp"),
    FormatKind.WEBP: ("image/webp", ".webp"),
    FormatKind.GIF: ("image/gif", ".gif"),
    FormatKind.JP2: ("image/jp2", ".jp2"),
    FormatKind.PDF: ("application/pdf", ".pdf"),
    FormatKind.DOCX: (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".docx",
    ),
    FormatKind.XLSX: (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".xlsx",
    ),
    FormatKind.DOC: ("application/msword", ".doc"),
    FormatKind.XLS: ("application/vnd.ms-excel", ".xls"),
}


@dataclass(frozen=True)
class DetectedFormat:
    """What a file is, by content.

    Attributes:
        kind: The format.
        mime: Its MIME type.
        ext: The canonical extension, with the dot (``.jpg``, ``.docx``).
    """

    kind: FormatKind
    mime: str
    ext: str

    @classmethod
    def of(cls, kind: FormatKind) -> DetectedFormat:
        mime, ext = _MIME_AND_EXT[kind]
        return cls(kind=kind, mime=mime, ext=ext)

    @property
    def is_image(self) -> bool:
        return self.kind in IMAGE_KINDS

    @property
    def is_pdf(self) -> bool:
        return self.kind is FormatKind.PDF

    @property
    def is_office(self) -> bool:
        return self.kind in OFFICE_KINDS


def detect_format(path: Path) -> DetectedFormat:
    """Detect a file's format from its content.

    Args:
        path: The file to look at. Only its first bytes are read (plus, for zip and OLE2
            containers, their directory).

    Returns:
        The detected format.

    Raises:
        EmptyFileError: The file has no bytes.
        UnsupportedFormatError: The content is not a format dossier reads; the message says
            what it looks like when known.
        CorruptFileError: A zip container whose directory cannot be read.
    """
    with open(path, "rb") as f:
        return detect_stream(f)


def detect_stream(f: BinaryIO) -> DetectedFormat:
    """:func:`detect_format` for an open, seekable binary stream (e.g. an upload not yet saved).

    Reads from the current position's start (the stream is rewound first) and leaves the
    position at 0 afterwards, so the caller can read the bytes again.
    """
    f.seek(0)
    try:
        head = f.read(_HEAD_BYTES)
        if not head:
            raise EmptyFileError("文件为空（0 字节）")
        kind = _image_kind(head)
        if kind is not None:
            return DetectedFormat.of(kind)
        if _PDF_MAGIC in head:
            return DetectedFormat.of(FormatKind.PDF)
        if head.startswith(b"PK\x03\x04"):
            return DetectedFormat.of(_zip_kind(f))
        if head.startswith(_OLE_MAGIC):
            return DetectedFormat.of(_ole_kind(f))
        raise UnsupportedFormatError(_describe_unsupported(head))
    finally:
        f.seek(0)


def _image_kind(head: bytes) -> FormatKind | None:
    if head.startswith(b"\xff\xd8\xff"):
        return FormatKind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FormatKind.PNG
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return FormatKind.TIFF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FormatKind.WEBP
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FormatKind.GIF
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xff\x4f\xff\x51"):
        return FormatKind.JP2
    if _looks_like_bmp(head):
        return FormatKind.BMP
    return None


def _looks_like_bmp(head: bytes) -> bool:
    """``BM`` alone is too weak a signature; also require a known DIB header size."""
    if len(head) < 18 or not head.startswith(b"BM"):
        return False
    (dib_size,) = struct.unpack_from("<I", head, 14)
    return dib_size in _BMP_DIB_HEADER_SIZES


def _zip_kind(f: BinaryIO) -> FormatKind:
    f.seek(0)
    try:
        with zipfile.ZipFile(f) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise CorruptFileError("文件已损坏：ZIP 容器（Word/Excel 文档）无法读取") from e
    if "[Content_Types].xml" in names:
        if any(n.startswith("word/") for n in names):
            return FormatKind.DOCX
        if any(n.startswith("xl/") for n in names):
            return FormatKind.XLSX
        if any(n.startswith("ppt/") for n in names):
            raise UnsupportedFormatError("不支持的文件格式：PowerPoint 演示文稿")
        raise UnsupportedFormatError("不支持的文件格式：未知的 Office Open XML 文档")
    if "OFD.xml" in names:
        raise UnsupportedFormatError("不支持的文件格式：OFD 电子文件（请导出为 PDF）")
    if "mimetype" in names and any(n == "content.xml" for n in names):
        raise UnsupportedFormatError("不支持的文件格式：OpenDocument 文档（请另存为 Word/Excel）")
    raise UnsupportedFormatError("不支持的文件格式：ZIP 压缩包")


def _ole_kind(f: BinaryIO) -> FormatKind:
    f.seek(0)
    names = {n.lower() for n in _ole_names_of(f)}
    if "encryptedpackage" in names:
        raise EncryptedFileError("Office 文档已加密，需要密码")
    if "worddocument" in names:
        return FormatKind.DOC
    if "workbook" in names or "book" in names:
        return FormatKind.XLS
    if "powerpoint document" in names:
        raise UnsupportedFormatError("不支持的文件格式：PowerPoint 演示文稿")
    raise UnsupportedFormatError("不支持的文件格式：OLE 复合文档（不是 Word 或 Excel）")


def _describe_unsupported(head: bytes) -> str:
    label = _known_other_format(head)
    if label:
        return f"不支持的文件格式：{label}"
    return "无法识别的文件内容"


def _known_other_format(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc"):
            return "HEIC 图像（请导出为 JPEG）"
        if brand in (b"avif", b"avis"):
            return "AVIF 图像（请导出为 JPEG）"
        return "视频或 MP4 类文件"
    prefixes: list[tuple[bytes, str]] = [
        (b"PK\x05\x06", "ZIP 压缩包"),
        (b"Rar!\x1a\x07", "RAR 压缩包"),
        (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
        (b"\x1f\x8b", "gzip 压缩文件"),
        (b"DDS ", "DDS 纹理图像"),
        (b"8BPS", "Photoshop 文档"),
        (b"{\\rtf", "RTF 文档"),
        (b"\x00\x00\x01\x00", "ICO 图标"),
        (b"%!PS", "PostScript 文件"),
        (b"AT&TFORM", "DjVu 文档"),
    ]
    for prefix, label in prefixes:
        if head.startswith(prefix):
            return label
    if head[:4] == b"RIFF":
        return "RIFF 媒体文件"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "HTML 网页"
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<svg"):
        return "XML/SVG 文件"
    return None


# --- a tiny OLE2 (compound file) directory reader -------------------------------------------

_FREESECT = 0xFFFFFFFF
_ENDOFCHAIN = 0xFFFFFFFE
_MAX_SECTOR = 0xFFFFFFFA
_MAX_DIR_SECTORS = 4096  # a real Word/Excel directory has a handful; bound hostile loops


def read_ole_stream_names(path: Path) -> list[str]:
    """Return the names of the entries in an OLE2 compound file's directory.

    Args:
        path: An OLE2 compound file (``.doc``, ``.xls``, encrypted OOXML, ...).

    Returns:
        Entry names (root entry, storages and streams), in directory order.

    Raises:
        CorruptFileError: The header or the directory chain is not readable.
    """
    with open(path, "rb") as f:
        return _ole_names_of(f)


def _ole_names_of(f: BinaryIO) -> list[str]:
    try:
        return _read_ole_names(f)
    except (struct.error, ValueError, OSError) as e:
        raise CorruptFileError("文件已损坏：OLE 复合文档目录无法读取") from e


def _read_ole_names(f: BinaryIO) -> list[str]:
    header = f.read(512)
    if len(header) < 512 or not header.startswith(_OLE_MAGIC):
        raise ValueError("short OLE header")
    sector_shift = struct.unpack_from("<H", header, 30)[0]
    if sector_shift not in (9, 12):
        raise ValueError(f"bad sector shift {sector_shift}")
    sector_size = 1 << sector_shift
    first_dir = struct.unpack_from("<I", header, 48)[0]
    fat_sectors = _fat_sector_ids(f, header, sector_size)
    fat = _read_fat(f, fat_sectors, sector_size)
    names: list[str] = []
    sector = first_dir
    for _ in range(_MAX_DIR_SECTORS):
        if sector > _MAX_SECTOR:
            break
        names.extend(_dir_entry_names(_read_sector(f, sector, sector_size)))
        sector = fat[sector] if sector < len(fat) else _ENDOFCHAIN
    return names


def _fat_sector_ids(f: BinaryIO, header: bytes, sector_size: int) -> list[int]:
    ids = [i for i in struct.unpack_from("<109I", header, 76) if i <= _MAX_SECTOR]
    difat = struct.unpack_from("<I", header, 68)[0]
    per_sector = sector_size // 4 - 1
    for _ in range(_MAX_DIR_SECTORS):
        if difat > _MAX_SECTOR:
            break
        data = _read_sector(f, difat, sector_size)
        values = struct.unpack_from(f"<{per_sector + 1}I", data)
        ids.extend(i for i in values[:per_sector] if i <= _MAX_SECTOR)
        difat = values[per_sector]
    return ids


def _read_fat(f: BinaryIO, fat_sectors: list[int], sector_size: int) -> list[int]:
    fat: list[int] = []
    count = sector_size // 4
    for sid in fat_sectors:
        data = _read_sector(f, sid, sector_size)
        fat.extend(struct.unpack_from(f"<{count}I", data))
    return fat


def _read_sector(f: BinaryIO, sector: int, sector_size: int) -> bytes:
    f.seek((sector + 1) * sector_size)
    data = f.read(sector_size)
    if len(data) < sector_size:
        raise ValueError(f"sector {sector} beyond end of file")
    return data


def _dir_entry_names(sector: bytes) -> list[str]:
    names = []
    for offset in range(0, len(sector), 128):
        entry = sector[offset : offset + 128]
        name_len = struct.unpack_from("<H", entry, 64)[0]
        entry_type = entry[66]
        if entry_type == 0 or not 2 <= name_len <= 64:
            continue
        names.append(entry[: name_len - 2].decode("utf-16-le", errors="replace"))
    return names
