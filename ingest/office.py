"""Word and Excel to PDF with LibreOffice headless (the standard's "Word/Excel 转为 PDF").

The only module that runs ``soffice``. Every call gets its own temporary folder holding a copy of
the input under a safe name with the right extension (intake names can be anything) and its own
LibreOffice profile: two conversions sharing a profile fail silently (rc 1, no output). The
profile is seeded so that the default Asian locale is zh-CN, which makes fontconfig choose
Simplified Chinese glyphs rather than Japanese variants. A timeout kills the whole process group.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ingest.detect import OFFICE_KINDS, DetectedFormat, FormatKind
from ingest.errors import ConversionError

log = logging.getLogger(__name__)

SOFFICE = "soffice"

_PROFILE_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Linguistic/General">
 <prop oor:name="DefaultLocale_CJK" oor:op="fuse"><value>zh-CN</value></prop>
</item>
<item oor:path="/org.openoffice.Setup/L10N">
 <prop oor:name="ooSetupSystemLocale" oor:op="fuse"><value>zh-CN</value></prop>
</item>
<item oor:path="/org.openoffice.Office.Common/Misc">
 <prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop>
</item>
</oor:items>
"""


def convert_to_pdf(path: Path, *, kind: FormatKind, work_dir: Path, timeout: float) -> Path:
    """Convert a Word or Excel file to PDF.

    Args:
        path: The input file (any name; its content was detected as ``kind``).
        kind: One of docx, xlsx, doc, xls.
        work_dir: Parent folder for this conversion's private folder; the PDF is left there.
        timeout: Seconds before LibreOffice (and everything it started) is killed.

    Returns:
        The path of the PDF, inside a new folder under ``work_dir``.

    Raises:
        ConversionError: LibreOffice is missing, failed, timed out, or wrote no valid PDF.
    """
    if kind not in OFFICE_KINDS:
        raise ValueError(f"not an office format: {kind}")
    work_dir.mkdir(parents=True, exist_ok=True)
    job = Path(tempfile.mkdtemp(prefix="soffice-", dir=work_dir))
    source = job / f"input{DetectedFormat.of(kind).ext}"
    shutil.copyfile(path, source)
    profile = _make_profile(job / "profile")
    outdir = job / "out"
    outdir.mkdir()
    _run_soffice(_command(source=source, outdir=outdir, profile=profile), timeout=timeout, job=job)
    return _check_output(outdir / "input.pdf")


def _make_profile(profile: Path) -> Path:
    user = profile / "user"
    user.mkdir(parents=True)
    (user / "registrymodifications.xcu").write_text(_PROFILE_XCU, encoding="utf-8")
    return profile


def _command(*, source: Path, outdir: Path, profile: Path) -> list[str]:
    return [
        SOFFICE,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--convert-to",
        "pdf",
        "--outdir",
        str(outdir),
        str(source),
    ]


def _run_soffice(cmd: list[str], *, timeout: float, job: Path) -> None:
    env = {**os.environ, "HOME": str(job)}
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=job,
            start_new_session=True,
        )
    except OSError as e:
        raise ConversionError("无法启动 LibreOffice（soffice 未安装？）") from e
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        _kill_group(proc)
        raise ConversionError(f"LibreOffice 转换超时（{timeout:g} 秒）") from e
    if proc.returncode != 0:
        tail = stderr.decode("utf-8", "replace")[-300:]
        log.warning("soffice exited with %d: %s", proc.returncode, tail)
        raise ConversionError(f"LibreOffice 转换失败（退出码 {proc.returncode}）")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _check_output(pdf: Path) -> Path:
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise ConversionError("LibreOffice 未能生成 PDF（文件可能已损坏）")
    with open(pdf, "rb") as f:
        if not f.read(1024).lstrip().startswith(b"%PDF-"):
            raise ConversionError("LibreOffice 生成的文件不是有效的 PDF")
    return pdf
