"""Tesseract behind the OCR engine interface. The only module that imports pytesseract.

One tesseract run gives text, words and the PDF layer at once. Tesseract is run with
``OMP_THREAD_LIMIT=1``: one process per core is much faster than several threads per page.

Defaults measured on generated pages (bench/samples.py; 3 seeds x clean, noise, blur+jpeg, seal
over text; line CER = each true line against its best stretch of the output; code = USCC or ID
number exact, then after ``reread_code``):

=====================  ===================  ==================  ==================
config                 license CER / code   form CER / code     ID copy CER / code
=====================  ===================  ==================  ==================
chi_sim+eng --psm 3    0.184 / 7 -> 11/12   0.068 / 9 -> 10/12  0.171 / 12/12
chi_sim+eng --psm 4    0.135 / 7 -> 11/12   0.101 / 9 -> 9/12   0.163 / 12/12
chi_sim --psm 4        0.107 / 8 -> 12/12   0.072 / 9 -> 9/12   0.114 / 12/12
chi_sim --psm 6        0.106 / 8 -> 11/12   (not run)           (not run)
=====================  ===================  ==================  ==================

Form and ID columns were measured with stronger noise than bench/samples.py now makes.
The codes missed on forms were under a red seal: since then ``reread_code`` reads the red
channel in a region bounded by the label's height, and read 4/4 forms and 4/4 licenses with a
seal over the code.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import pytesseract
from PIL import Image

from ingest.errors import OcrError, ProcessingTimeoutError
from ingest.ocr.base import OcrParams, OcrResult, Orientation, Word, normalize_ocr_text

log = logging.getLogger(__name__)

CODE_WHITELIST = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SEAL_RED_LEVEL = 150  # red-channel level above which a pixel is paper or red seal ink
_TIMEOUT_MESSAGE = "Tesseract process timeout"

class TesseractEngine:
    """Tesseract through pytesseract, one thread per process, with a timeout on every run."""

    name = "tesseract"

    def __init__(self, *, osd_timeout: float = 30, code_timeout: float = 20) -> None:
        _limit_threads()
        self.osd_timeout = osd_timeout
        self.code_timeout = code_timeout

    def osd(self, image: Image.Image) -> Orientation:
        """Detect the page orientation; a page with too little text gives angle 0, confidence 0.

        Raises:
            OcrError: Tesseract failed for another reason.
            ProcessingTimeoutError: OSD took longer than ``osd_timeout``.
        """
        return detect_orientation(image, timeout=self.osd_timeout)

    def recognize(self, image: Image.Image, *, params: OcrParams) -> OcrResult:
        """OCR one page: text, mean word confidence, words and (optionally) the PDF text layer.

        Raises:
            OcrError: Tesseract failed or produced no output.
            ProcessingTimeoutError: The run took longer than ``params.timeout``.
        """
        return run_tesseract_page(image, params=params)

    def reread_code(
        self,
        image: Image.Image,
        region_box: tuple[int, int, int, int],
        *,
        validate: Callable[[str], bool] | None = None,
    ) -> str:
        """Re-read an identifier (USCC, ID number) in a region; see :func:`reread_code`."""
        return reread_code(image, region_box, validate=validate, timeout=self.code_timeout)

    def read_regions(
        self, image: Image.Image, boxes: Sequence[tuple[int, int, int, int]]
    ) -> list[tuple[str, float]]:
        """Read one-line regions of a page in one run; see :func:`read_regions`."""
        return read_regions(image, boxes, timeout=self.code_timeout)


# ---------------------------------------------------------------------------------------------
# Tesseract runs
# ---------------------------------------------------------------------------------------------


def _limit_threads() -> None:
    # pytesseract starts tesseract with this process's environment.
    os.environ["OMP_THREAD_LIMIT"] = "1"


def _run(*, image: Image.Image, workdir: Path, outputs: str, languages: str, config: str,
         timeout: float) -> Path:
    """Run tesseract once on ``image``; returns the output base path (``base.txt`` etc.)."""
    _limit_threads()
    # Uncompressed PNM: writing a 300 DPI page as PNG costs 0.2-0.4 s per call, PNM about
    # 0.01 s (docs/benchmarks.md). PNM has no DPI field; callers pass --dpi to tesseract.
    source = workdir / "page.pnm"
    image.save(source, "PPM")
    base = workdir / "out"
    try:
        pytesseract.pytesseract.run_tesseract(
            str(source), str(base), outputs, languages, config=config, timeout=timeout
        )
    except RuntimeError as e:
        if str(e) == _TIMEOUT_MESSAGE:
            raise ProcessingTimeoutError(
                f"文字识别超时（超过 {timeout:g} 秒）", timeout_seconds=timeout) from e
        raise OcrError(f"文字识别失败：{e}") from e
    except pytesseract.TesseractNotFoundError as e:
        raise OcrError("未找到 tesseract 程序，请先安装") from e
    except (pytesseract.TesseractError, OSError) as e:
        raise OcrError(f"文字识别失败：{e}") from e
    return base


def _ocr_image(image: Image.Image) -> Image.Image:
    """Grey (or bilevel) pixels for tesseract: it binarizes grey anyway, and reads a grey page
    about 30% faster than the same page in colour (measured: 0.95 s against 1.35 s)."""
    if image.mode in ("1", "L"):
        return image
    converted = image.convert("L")
    converted.info["dpi"] = image.info.get("dpi", (300, 300))
    return converted


def run_tesseract_page(image: Image.Image, *, params: OcrParams) -> OcrResult:
    """One tesseract run producing text, TSV words and, if asked, a text-only PDF page.

    Raises:
        OcrError: Tesseract failed or wrote no output.
        ProcessingTimeoutError: Over ``params.timeout`` seconds.
    """
    image = _ocr_image(image)
    config = f"--psm {params.psm} --dpi {params.dpi} -c tessedit_create_tsv=1"
    outputs = "txt tsv"
    if params.text_pdf:
        config += " -c textonly_pdf=1"
        outputs += " pdf"
    with tempfile.TemporaryDirectory(prefix="dossier-ocr-") as tmp:
        base = _run(image=image, workdir=Path(tmp), outputs=outputs, languages=params.languages,
                    config=config, timeout=params.timeout)
        try:
            raw_text = base.with_suffix(".txt").read_text(encoding="utf-8")
            words = parse_tsv(base.with_suffix(".tsv").read_text(encoding="utf-8"))
            pdf = base.with_suffix(".pdf").read_bytes() if params.text_pdf else None
        except OSError as e:
            raise OcrError("文字识别没有生成输出文件") from e
    return OcrResult(text=normalize_ocr_text(raw_text), mean_confidence=mean_confidence(words),
                     words=tuple(words), text_pdf=pdf)


def detect_orientation(image: Image.Image, *, timeout: float = 30) -> Orientation:
    """Tesseract OSD (``--psm 0``). Pages with too few characters give ``Orientation(0, 0.0)``.

    Raises:
        OcrError: Tesseract failed for another reason.
        ProcessingTimeoutError: Over ``timeout`` seconds.
    """
    image = _ocr_image(image)
    dpi = round(image.info.get("dpi", (300, 300))[0])
    with tempfile.TemporaryDirectory(prefix="dossier-osd-") as tmp:
        try:
            base = _run(image=image, workdir=Path(tmp), outputs="osd", languages="osd",
                        config=f"--psm 0 --dpi {dpi}", timeout=timeout)
        except OcrError as e:
            if "Too few characters" in str(e) or "Invalid resolution" in str(e):
                return Orientation(angle=0, confidence=0.0)
            raise
        try:
            report = base.with_suffix(".osd").read_text(encoding="utf-8")
        except OSError:
            return Orientation(angle=0, confidence=0.0)  # tesseract wrote nothing: no text
    return parse_osd(report)


def parse_osd(report: str) -> Orientation:
    """Read tesseract's OSD report (``Rotate: 90`` / ``Orientation confidence: 6.9``)."""
    values = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in report.splitlines())
    )
    try:
        angle = int(values.get("Rotate", "0")) % 360
        confidence = float(values.get("Orientation confidence", "0"))
    except ValueError:
        return Orientation(angle=0, confidence=0.0)
    return Orientation(angle=angle, confidence=confidence)


def parse_tsv(tsv: str) -> list[Word]:
    """Words (level 5 rows with text) from tesseract's TSV output."""
    words = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        try:
            nums = [int(c) for c in cols[:10]]
            conf = float(cols[10])
        except ValueError:
            continue
        words.append(Word(text=cols[11].strip(), confidence=conf, left=nums[6], top=nums[7],
                          width=nums[8], height=nums[9], line=(nums[2], nums[3], nums[4])))
    return words


def mean_confidence(words: Sequence[Word]) -> float:
    """Mean word confidence (0-100), ignoring tesseract's -1 (no confidence); 0.0 for no words."""
    confs = [w.confidence for w in words if w.confidence >= 0]
    return round(sum(confs) / len(confs), 2) if confs else 0.0


# ---------------------------------------------------------------------------------------------
# Identifiers
# ---------------------------------------------------------------------------------------------


def reread_code(
    image: Image.Image,
    region_box: tuple[int, int, int, int],
    *,
    validate: Callable[[str], bool] | None = None,
    timeout: float = 20,
    scales: Sequence[float] = (1.0, 2.0),
) -> str:
    """Re-read a code (USCC, ID number) in one region with ``eng --psm 7`` and a 0-9A-Z whitelist.

    Args:
        image: The page.
        region_box: (left, top, right, bottom) in the page's pixels, around the value only.
        validate: If given, a check (e.g. the check character); the next scale is tried when it
            fails, and the last reading is returned regardless.
        timeout: Seconds per tesseract run.
        scales: Enlargements to try, in order.

    Returns:
        The characters read, without spaces ('' when nothing was read).

    Raises:
        OcrError: Tesseract failed.
        ProcessingTimeoutError: A run took longer than ``timeout``.
    """
    crop = _drop_red(image.crop(region_box))
    config = f"--psm 7 --dpi 300 -c tessedit_char_whitelist={CODE_WHITELIST}"
    text = ""
    for scale in scales:
        scaled = crop if scale == 1 else crop.resize(
            (max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
            Image.Resampling.LANCZOS)
        with tempfile.TemporaryDirectory(prefix="dossier-code-") as tmp:
            base = _run(image=scaled, workdir=Path(tmp), outputs="txt", languages="eng",
                        config=config, timeout=timeout)
            text = re.sub(r"\s+", "", base.with_suffix(".txt").read_text(encoding="utf-8"))
        if validate is None or validate(text):
            break
    return text


#: White space between the regions :func:`read_regions` stacks, in pixels.
_LINE_GAP = 24


def read_regions(
    image: Image.Image,
    boxes: Sequence[tuple[int, int, int, int]],
    *,
    languages: str = "chi_sim",
    timeout: float = 20,
) -> list[tuple[str, float]]:
    """Read several one-line regions of a page (field values) with one tesseract run.

    The regions are cut out (red seal ink lifted, as for codes), stacked under each other with
    white space between them and read as one block (``--psm 6``): one run, so the language
    model loads once per page, not once per value. Each word goes back to the region its
    middle lies in.

    Returns:
        Per box, in order: the text read (compact, no spaces) and tesseract's mean word
        confidence 0..1 (``("", 0.0)`` when nothing was read there).

    Raises:
        OcrError: Tesseract failed.
        ProcessingTimeoutError: The run took longer than ``timeout``.
    """
    if not boxes:
        return []
    crops = [_drop_red(image.crop(box)) for box in boxes]
    width = max(c.width for c in crops) + 2 * _LINE_GAP
    height = sum(c.height for c in crops) + _LINE_GAP * (len(crops) + 1)
    sheet = Image.new("L", (width, height), 255)
    spans, top = [], _LINE_GAP
    for crop in crops:
        sheet.paste(crop, (_LINE_GAP, top))
        spans.append((top, top + crop.height))
        top += crop.height + _LINE_GAP
    with tempfile.TemporaryDirectory(prefix="dossier-lines-") as tmp:
        base = _run(image=sheet, workdir=Path(tmp), outputs="tsv", languages=languages,
                    config="--psm 6 --dpi 300 -c tessedit_create_tsv=1", timeout=timeout)
        try:
            words = parse_tsv(base.with_suffix(".tsv").read_text(encoding="utf-8"))
        except OSError as e:
            raise OcrError("文字识别没有生成输出文件") from e
    found: list[list[Word]] = [[] for _ in crops]
    for w in words:
        middle = w.top + w.height / 2
        for n, (upper, lower) in enumerate(spans):
            if upper <= middle <= lower:
                found[n].append(w)
                break
    return [(re.sub(r"\s+", "", "".join(w.text for w in ws)),
             round(mean_confidence(ws) / 100, 3)) for ws in found]


def _drop_red(image: Image.Image) -> Image.Image:
    """Grey image for code reading: the red channel of a colour scan, where red seals fade to
    near-paper grey; those light greys are then lifted to white, dark ink is kept."""
    if image.mode != "RGB":
        return image.convert("L")
    return image.getchannel("R").point(lambda v: 255 if v >= _SEAL_RED_LEVEL else v)


_TESSDATA_LINE = re.compile(r'"(?P<dir>[^"]+)"')


@cache
def tessdata_dir(*, timeout: float = 10) -> Path | None:
    """The data folder the installed tesseract reads (``--list-langs``); None when unknown."""
    try:
        done = subprocess.run(
            [pytesseract.pytesseract.tesseract_cmd, "--list-langs"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = _TESSDATA_LINE.search(done.stdout + done.stderr)
    return Path(found["dir"]) if found else None
