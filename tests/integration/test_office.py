"""Word and Excel through real LibreOffice: conversion, Chinese text, failures, time limits.

Samples are generated here with soffice itself (.txt -> .docx/.doc, .csv -> .xlsx/.xls), since
python-docx and openpyxl are not installed.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ingest.detect import FormatKind
from ingest.errors import ConversionError, CorruptFileError
from ingest.loading import Limits, load_document
from ingest.office import convert_to_pdf

TEXT = "营业执照\n统一社会信用代码 91110000100000000X\n名称：北京测试科技有限公司\n"
CSV = "名称,统一社会信用代码\n北京测试科技有限公司,91110000100000000X\n"

# target extension -> (source file, LibreOffice filter)
_SAMPLES = {
    "docx": ("license.txt", "docx:MS Word 2007 XML"),
    "doc": ("license.txt", "doc:MS Word 97"),
    "xlsx": ("table.csv", "xlsx:Calc Office Open XML"),
    "xls": ("table.csv", "xls:MS Excel 97"),
}


@pytest.fixture(scope="module")
def office_samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One real file per Office kind, each holding the Chinese sample text."""
    root = tmp_path_factory.mktemp("office-samples")
    (root / "license.txt").write_text(TEXT, encoding="utf-8")
    (root / "table.csv").write_text(CSV, encoding="utf-8")
    profile = (root / "profile").as_uri()
    samples = {}
    for ext, (source, target) in _SAMPLES.items():
        outdir = root / ext
        infilter = ["--infilter=CSV:44,34,76,1"] if source.endswith(".csv") else []
        cmd = [
            "soffice",
            f"-env:UserInstallation={profile}",
            "--headless",
            *infilter,
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            str(root / source),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        produced = outdir / f"{Path(source).stem}.{ext}"
        assert produced.is_file(), f"soffice did not produce {produced}"
        samples[ext] = produced
    return samples


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("ext", "kind", "expected"),
    [
        ("docx", FormatKind.DOCX, "北京测试科技有限公司"),
        ("doc", FormatKind.DOC, "北京测试科技有限公司"),
        ("xlsx", FormatKind.XLSX, "91110000100000000X"),
        ("xls", FormatKind.XLS, "91110000100000000X"),
    ],
)
def test_office_files_convert_whatever_their_intake_name(
    office_samples: dict[str, Path], tmp_path: Path, ext: str, kind: FormatKind, expected: str
) -> None:
    # The intake name says nothing (no extension, Chinese, spaces): content decides.
    intake = tmp_path / "客户 资料 001"
    intake.write_bytes(office_samples[ext].read_bytes())
    before = hashlib.sha256(intake.read_bytes()).hexdigest()
    with load_document(intake, limits=Limits(), work_dir=tmp_path / "work") as doc:
        assert doc.format.kind is kind
        assert doc.page_count >= 1
        assert doc.source_pdf is not None
        assert doc.source_pdf.is_relative_to(tmp_path / "work")
        text = doc.pages[0].text or ""
        assert expected in text
        assert "北京测试科技有限公司" in text
        image = doc.render_page(0, dpi=100)
        assert image.mode == "RGB" and image.width > 500
    assert hashlib.sha256(intake.read_bytes()).hexdigest() == before


@pytest.mark.timeout(120)
def test_corrupt_docx_is_a_conversion_error(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<?xml not really")
        z.writestr("word/document.xml", "\x00\x01 garbage")
    path = tmp_path / "合同.docx"
    path.write_bytes(buf.getvalue())
    with pytest.raises(ConversionError, match="LibreOffice"):
        load_document(path, limits=Limits(), work_dir=tmp_path / "work")


def test_truncated_docx_is_corrupt(office_samples: dict[str, Path], tmp_path: Path) -> None:
    data = office_samples["docx"].read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="ZIP"):
        load_document(path, limits=Limits(), work_dir=tmp_path / "work")


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\x00", b" ")
            state = next(
                line for line in (proc / "status").read_text().splitlines() if line[:6] == "State:"
            )
        except (OSError, StopIteration):
            continue
        if text.encode() in cmdline and "zombie" not in state:
            found.append(int(proc.name))
    return found


@pytest.mark.timeout(60)
def test_timeout_kills_the_whole_libreoffice_process_group(
    office_samples: dict[str, Path], tmp_path: Path
) -> None:
    # At 0.6 s soffice.bin is running (a fresh profile alone takes over a second); measured:
    # killing only the direct child leaves soffice.bin behind, so this needs the group kill.
    work = tmp_path / "work-timeout"
    started = time.monotonic()
    with pytest.raises(ConversionError, match="超时"):
        convert_to_pdf(office_samples["docx"], kind=FormatKind.DOCX, work_dir=work, timeout=0.6)
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while _processes_mentioning(str(work)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_mentioning(str(work)) == []


@pytest.mark.timeout(120)
def test_two_conversions_at_once_both_succeed(
    office_samples: dict[str, Path], tmp_path: Path
) -> None:
    jobs = [(office_samples["docx"], FormatKind.DOCX), (office_samples["xlsx"], FormatKind.XLSX)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(convert_to_pdf, path, kind=kind, work_dir=tmp_path / "work", timeout=90)
            for path, kind in jobs
        ]
        pdfs = [f.result() for f in futures]
    assert len({p.parent for p in pdfs}) == 2
    for pdf in pdfs:
        assert pdf.read_bytes().startswith(b"%PDF-")


def test_non_office_kind_is_a_programming_error(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(ValueError, match="not an office format"):
        convert_to_pdf(path, kind=FormatKind.PDF, work_dir=tmp_path, timeout=5)
