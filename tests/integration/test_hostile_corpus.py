"""Every file in tests/resources/hostile/ is read safely: success or a specific IngestError.

Each file has an expected outcome below, so a regression (a file that used to load and now
fails, or an error class that changes) shows up by name. Never another exception, never a hang
(per-test timeout), and the input bytes never change.
"""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    IngestError,
    TooLargeError,
    UnsupportedFormatError,
)
from ingest.loading import Limits, load_document
from tests.fixtures.corpus import corpus_dir

MAX_PAGES_RENDERED = 5  # long books: the first pages are enough to prove rendering works



def _manifest() -> dict[str, dict[str, str]]:
    manifest = corpus_dir() / "MANIFEST.tsv"
    assert manifest.is_file(), f"hostile corpus missing: {manifest}"
    with open(manifest, encoding="utf-8", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


# file -> "ok:<pages>" or (error class, words the message must contain)
Expected = str | tuple[type[IngestError], str]
EXPECTED: dict[str, Expected] = {
    "derived__zero-bytes.pdf": (EmptyFileError, "文件为空"),
    "pdfsamples__GeoTopo-komprimiert.pdf": "ok:117",
    "pdfsamples__cmyk-image.pdf": "ok:1",
    "pdfsamples__google-doc-document.pdf": "ok:1",
    "pdfsamples__imagemagick-CCITTFaxDecode.pdf": "ok:1",
    "pdfsamples__libreoffice-writer-password.pdf": (EncryptedFileError, "PDF 已加密，需要密码"),
    "pdfsamples__mistitled_outlines_example.pdf": "ok:4",
    "pdfsamples__unreadablemetadata.pdf": (CorruptFileError, "PDF 文件已损坏"),
    "pdfsamples__with-attachment.pdf": "ok:1",
    "pillow__16bit.MM.deflate.tif": "ok:1",
    "pillow__broken.png": (CorruptFileError, "图像文件已损坏"),
    "pillow__broken_data_stream.png": (CorruptFileError, "图像数据损坏"),
    "pillow__crash-0da013a13571cc8eb457a39fee8db18f8a3c7127.tif": "ok:1",
    "pillow__crash-2020-10-test.tif": (CorruptFileError, "图像文件结构已损坏"),
    "pillow__decompression_bomb.gif": (TooLargeError, "图像像素超过上限"),
    "pillow__decompression_bomb_extents.gif": "ok:1",  # first frame only; the bomb is frame 2
    "pillow__exif-dpi-zerodivision.jpg": "ok:1",
    "pillow__g4-multi.tiff": "ok:3",
    "pillow__hopper_bad_exif.jpg": "ok:1",
    "pillow__hopper_orientation_6.jpg": "ok:1",
    "pillow__iss634.webp": "ok:1",  # animated: first frame only
    "pillow__junk_jpeg_header.jpg": "ok:1",
    "pillow__not_enough_data.jp2": (CorruptFileError, "图像文件已损坏"),
    "pillow__old-style-jpeg-compression.tif": "ok:1",
    "pillow__oom-225817ca0f8c663be7ab4b9e717b02c661e66834.tif": (
        CorruptFileError,
        "图像文件已损坏",
    ),
    "pillow__orientation_rectangle.jpg": "ok:1",
    "pillow__p_trns_single.png": "ok:1",
    "pillow__pil_sample_cmyk.jpg": "ok:1",
    "pillow__pport_g4.tif": "ok:1",
    "pillow__seek_too_large.tif": (CorruptFileError, "图像文件头已损坏"),
    "pillow__test-card-lossy-tiled.jp2": "ok:1",
    "pillow__timeout-6646305047838720": (CorruptFileError, "文件被截断"),
    "pillow__timeout-c60a3d7314213624607bfb3e38d551a8b24a7435.dds": (
        UnsupportedFormatError,
        "不支持的文件格式：DDS",
    ),
    "pillow__truncated_image.png": (CorruptFileError, "文件被截断"),
    "pillow__truncated_jpeg.jpg": (CorruptFileError, "文件被截断"),
    "pypdf__SF424_page2.pdf": "ok:1",
    "pypdf__Seige_of_Vicksburg_Sample_OCR.pdf": "ok:6",
    "pypdf__encrypted_doc_no_id.pdf": "ok:3",
    "pypdf__indirect-rotation.pdf": "ok:5",
    "pypdf__indirect-rotation.truncated-63939B.pdf": (CorruptFileError, "PDF 文件已损坏"),
    "pypdf__issue-297.pdf": "ok:1",
    "pypdf__issue-3850-1bit-indexed-flate.pdf": "ok:1",
    "pypdf__issue-914-xmp-data.pdf": "ok:1",
    "pypdf__multilang.pdf": "ok:1",
    "pypdf__r2-user-password.pdf": (EncryptedFileError, "PDF 已加密，需要密码"),
    "pypdf__r4-aes-v2-no-key-length.pdf": "ok:1",
    "pypdf__r4-owner-password.pdf": "ok:1",
    "pypdf__r6-both-passwords.pdf": (EncryptedFileError, "PDF 已加密，需要密码"),
    "pypdf__r6-empty-password.pdf": "ok:1",
    "pypdf__test Orient.pdf": "ok:1",
}


def test_expectations_cover_exactly_the_corpus() -> None:
    on_disk = {p.name for p in corpus_dir().iterdir() if p.name != "MANIFEST.tsv"}
    assert set(_manifest()) == on_disk
    assert set(EXPECTED) == on_disk


def _read_all(path: Path, work_dir: Path) -> int:
    """Load and render pages; return the page count."""
    with load_document(path, limits=Limits(), work_dir=work_dir) as doc:
        for index in range(min(doc.page_count, MAX_PAGES_RENDERED)):
            image = doc.render_page(index)
            assert image.mode in ("1", "L", "RGB")
            assert image.width > 0 and image.height > 0
            x_dpi, y_dpi = image.info["dpi"]
            assert 50 <= x_dpi <= 2400 and 50 <= y_dpi <= 2400
            del image
        return doc.page_count


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_is_read_or_refused_specifically(name: str, tmp_path: Path) -> None:
    path = corpus_dir() / name
    expected_sha = _manifest()[name]["sha256"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected_sha
    expected = EXPECTED[name]
    try:
        pages = _read_all(path, tmp_path / "work")
    except IngestError as e:
        assert not isinstance(expected, str), f"{name} should load, got {e!r}"
        error_class, words = expected
        assert type(e) is error_class, f"{name}: {e!r}"
        assert words in e.message
    else:
        assert expected == f"ok:{pages}", f"{name} loaded ({pages} pages), expected {expected}"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected_sha


@pytest.mark.timeout(120)
def test_a_117_page_book_renders_in_bounded_memory(tmp_path: Path) -> None:
    """Render every page of the book in a fresh process, one at a time: memory must not grow
    with the page count (holding the pages would take 117 x about 6.5 MB at 150 dpi = 760 MB).

    The peak (VmHWM) after the first 20 pages and after all 117 are compared, so the absolute
    size of the interpreter and libraries does not matter.
    """
    book = corpus_dir() / "pdfsamples__GeoTopo-komprimiert.pdf"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from ingest.loading import Limits, load_document
        def peak():  # VmHWM is this process's own; ru_maxrss survives exec (the parent's peak)
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
        with load_document(Path({str(book)!r}), limits=Limits(dpi=150),
                           work_dir=Path({str(tmp_path)!r})) as doc:
            assert doc.page_count == 117
            for i in range(doc.page_count):
                image = doc.render_page(i)
                assert image.size[0] > 1000
                del image
                if i == 19:
                    after_20 = peak()
        print(after_20, peak())
        """
    )
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=110
    )
    assert result.returncode == 0, result.stderr[-2000:]
    after_20, after_all = map(int, result.stdout.strip().splitlines()[-1].split())
    assert after_all - after_20 < 150, f"peak grew from {after_20} MB to {after_all} MB"
    assert after_all < 760, f"peak RSS {after_all} MB: pages are being held"
