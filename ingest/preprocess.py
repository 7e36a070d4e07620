"""Page clean-up before OCR: image mode, resolution, blank detection, orientation and skew.

``prepare_page`` takes one page image (EXIF orientation already applied, ``info["dpi"]`` set when
the file said so) and returns the page ready for OCR and for the searchable PDF. Blankness is
decided from the pixels before any OCR: OCR engines read show-through and noise as text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageFilter, ImageOps

from ingest.ocr.base import OcrEngine, Orientation
from ingest.photo import flatten_photo

log = logging.getLogger(__name__)

# Tuned on generated pages (bench/samples.py); see tests/integration/test_preprocess.py.
# OSD on a 150-dpi copy (half the time of 300 dpi) was right on 48 of 48 generated pages (six
# kinds x four rotations, with noise), confidences 1.2-20; the sparsest pages (an ID card's back
# alone) scored 1.2-1.9. Below 1.0 tesseract's answer is not trusted.
OSD_MIN_CONFIDENCE = 1.0
OSD_DPI = 150
# Measured: blank pages with noise, JPEG artefacts or show-through 0.00000-0.00001; the
# sparsest real page (one ID card's emblem side on A4) 0.009; a text page 0.03.
BLANK_MAX_INK_RATIO = 0.0005  # share of the page (margins excluded) covered by real ink
INK_CONTRAST = 50  # grey levels darker than the local paper that count as ink
MAX_SKEW_DEGREES = 10.0
MIN_SKEW_DEGREES = 0.2  # smaller skews are left alone (resampling costs sharpness)
SKEW_MIN_GAIN = 1.03  # a rotation must sharpen the line profile by 3% to be applied
_ANALYSIS_DPI = 75
# Seal ink: red exceeding both green and blue by this many levels. The generated seal's red
# (210, 30, 35) blurred or scanned stays above 100; its pink anti-aliased rim near 60-80;
# yellowed paper, shadows and grey or blue ink below 30.
SEAL_RED_MARGIN = 60
_A4_LONG_SIDE_INCHES = 11.69


@dataclass(frozen=True)
class PreparedPage:
    """A page ready for OCR.

    Attributes:
        image: The cleaned page (mode ``RGB``, ``L`` or ``1``), ``info["dpi"]`` set.
        rotated_by: Clockwise degrees (0/90/180/270) the page was turned to stand upright.
        skew_degrees: Skew found and corrected (counter-clockwise positive); 0.0 when none.
        is_blank: No real ink on the page (noise and show-through ignored); not OCR'd.
        dpi: Resolution of ``image``.
        ink_ratio: Share of the page covered by ink (for diagnostics and tuning).
        orientation_confidence: Tesseract OSD confidence (0.0 when OSD was not run or failed).
        flattened: A phone photo: the sheet was cut out of it and flattened
            (:func:`ingest.photo.flatten_photo`).
        ocr_image: What the engines read: ``image`` with red seal ink lifted
            (:func:`lift_seal_ink`); ``image`` itself when there is none. The searchable PDF
            keeps ``image``, seal and all.
    """

    image: Image.Image
    rotated_by: int
    skew_degrees: float
    is_blank: bool
    dpi: int
    ink_ratio: float = 0.0
    orientation_confidence: float = 0.0
    flattened: bool = False
    ocr_image: Image.Image | None = None


def prepare_page(
    image: Image.Image,
    *,
    engine: OcrEngine,
    target_dpi: int = 300,
    osd_min_confidence: float = OSD_MIN_CONFIDENCE,
) -> PreparedPage:
    """Normalize mode and resolution, detect a blank page, fix orientation and small skew.

    Args:
        image: One page; ``info["dpi"]`` is used when plausible, else guessed from an A4 size.
        engine: Used for orientation detection (``engine.osd``).
        target_dpi: Resolution of the result (low-resolution scans are upscaled).
        osd_min_confidence: OSD confidence needed to turn a page.

    Returns:
        The prepared page. Blank pages are returned after resolution normalization only.

    Raises:
        OcrError: Orientation detection failed (not for pages with too little text).
        ProcessingTimeoutError: Orientation detection timed out.
    """
    bilevel = image.mode == "1"
    page = normalize_mode(image)
    page, flattened = (page, False) if bilevel else flatten_photo(page)  # phone photos
    page = normalize_resolution(page, target_dpi=target_dpi)
    ink = ink_ratio(page)
    if ink <= BLANK_MAX_INK_RATIO:
        return _finish(page, bilevel=bilevel, rotated_by=0, skew=0.0, blank=True, ink=ink,
                       dpi=target_dpi, confidence=0.0, flattened=flattened)
    orientation = engine.osd(lift_seal_ink(_osd_copy(page, dpi=target_dpi)))
    rotated_by = 0
    if orientation.angle and orientation.confidence >= osd_min_confidence:
        page = rotate_upright(page, orientation)
        rotated_by = orientation.angle
    skew = estimate_skew(page)
    if skew:
        page = rotate_small(page, -skew)
    log.debug("page prepared: rotated %s, skew %.2f, ink %.4f", rotated_by, skew, ink)
    return _finish(page, bilevel=bilevel, rotated_by=rotated_by, skew=skew, blank=False,
                   ink=ink, dpi=target_dpi, confidence=orientation.confidence,
                   flattened=flattened)


def _finish(page: Image.Image, *, bilevel: bool, rotated_by: int, skew: float, blank: bool,
            ink: float, dpi: int, confidence: float, flattened: bool) -> PreparedPage:
    if bilevel:
        page = page.point(lambda v: 255 if v >= 128 else 0).convert("1", dither=None)
    page.info["dpi"] = (dpi, dpi)
    return PreparedPage(image=page, rotated_by=rotated_by, skew_degrees=round(skew, 2),
                        is_blank=blank, dpi=dpi, ink_ratio=round(ink, 5),
                        orientation_confidence=confidence, flattened=flattened,
                        ocr_image=page if blank else lift_seal_ink(page))


def lift_seal_ink(image: Image.Image) -> Image.Image:
    """The page with red seal ink turned to paper, for reading: a company seal stamped over a
    printed line hides it from the text detector (the license's name under its seal was read
    on none of the bench's seal_over_text pages), while black ink under the red stays black.
    Colour pages only; the same image when nothing on it is red."""
    if image.mode != "RGB":
        return image
    red, green, blue = image.split()
    margin = ImageChops.subtract(red, ImageChops.lighter(green, blue))
    seal = margin.point(lambda v: 255 if v >= SEAL_RED_MARGIN else 0)
    if not seal.getbbox():
        return image
    # white where the seal is, the page elsewhere (a pixel-wise maximum: faster than a copy
    # and a masked paste, 0.30 s against 0.48 s for a 300 dpi A4 page under load)
    lifted = ImageChops.lighter(image, Image.merge("RGB", (seal, seal, seal)))
    lifted.info = dict(image.info)
    return lifted


# ---------------------------------------------------------------------------------------------
# Mode and resolution
# ---------------------------------------------------------------------------------------------


def normalize_mode(image: Image.Image) -> Image.Image:
    """``RGB`` for colour, ``L`` for grey and bilevel; transparency goes onto white paper."""
    dpi = image.info.get("dpi")
    if image.mode in ("RGB", "L"):
        out = image
    elif image.mode == "1":
        out = image.convert("L")
    elif image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
    elif image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        out = _wide_grey_to_l(image)
    else:  # P, CMYK, YCbCr, LAB, HSV ...
        out = image.convert("RGB")
    if out is not image and dpi:
        out.info["dpi"] = dpi
    return out


def _wide_grey_to_l(image: Image.Image) -> Image.Image:
    as_float = image.convert("F")
    low, high = as_float.getextrema()
    scale = 255.0 / (high - low) if high > low else 1.0
    return as_float.point(lambda v: (v - low) * scale).convert("L")


def page_dpi(image: Image.Image) -> float:
    """The page's resolution: ``info["dpi"]`` when it gives a plausible page size, else A4."""
    long_side = max(image.size)
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if isinstance(dpi, tuple) else float(dpi or 0)
    except (TypeError, ValueError):
        value = 0.0
    # Cards (3.4 in) up to A3 (16.5 in); phone photos claiming 72 dpi are not 50-inch pages.
    if value > 0 and 3.0 <= long_side / value <= 17.5:
        return value
    return long_side / _A4_LONG_SIDE_INCHES


def normalize_resolution(image: Image.Image, *, target_dpi: int) -> Image.Image:
    """Resample to about ``target_dpi`` (within 10% it is left as is)."""
    dpi = page_dpi(image)
    factor = target_dpi / dpi
    if 0.9 <= factor <= 1.1:
        out = image
    else:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        resample = Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.BICUBIC
        out = image.resize(size, resample)
    out.info["dpi"] = (target_dpi, target_dpi)
    return out


# ---------------------------------------------------------------------------------------------
# Ink, blank pages
# ---------------------------------------------------------------------------------------------


def _analysis_grey(image: Image.Image) -> Image.Image:
    """A small grey copy (about 75 dpi): averaging kills scanner noise and speckles."""
    dpi = float(image.info.get("dpi", (300, 300))[0]) or 300.0
    factor = min(1.0, _ANALYSIS_DPI / dpi)
    grey = image.convert("L")
    size = (max(1, round(grey.width * factor)), max(1, round(grey.height * factor)))
    return grey.resize(size, Image.Resampling.BOX)


def ink_mask(image: Image.Image) -> Image.Image:
    """Mask (255 = ink) of pixels clearly darker than the local paper, at about 75 dpi.

    The paper level is estimated locally (a wide maximum filter), so shadows and tinted paper do
    not count as ink; faint show-through from the back of the sheet stays under the contrast.
    """
    grey = _analysis_grey(image)
    small = grey.resize((max(1, grey.width // 8), max(1, grey.height // 8)), Image.Resampling.BOX)
    paper = small.filter(ImageFilter.MaxFilter(5)).resize(grey.size, Image.Resampling.BILINEAR)
    darkness = ImageChops.subtract(paper, grey)
    return darkness.point(lambda v: 255 if v >= INK_CONTRAST else 0)


def ink_ratio(image: Image.Image) -> float:
    """Share of the page (3% margins excluded) covered by ink; isolated specks ignored."""
    mask = ink_mask(image)
    mx, my = round(mask.width * 0.03), round(mask.height * 0.03)
    inner = mask.crop((mx, my, mask.width - mx, mask.height - my))
    # A 3x3 median drops isolated noise pixels but keeps strokes.
    cleaned = inner.filter(ImageFilter.MedianFilter(3)) if min(inner.size) >= 3 else inner
    hist = cleaned.histogram()
    total = max(1, inner.width * inner.height)
    return hist[255] / total


# ---------------------------------------------------------------------------------------------
# Orientation and skew
# ---------------------------------------------------------------------------------------------


def _osd_copy(page: Image.Image, *, dpi: int) -> Image.Image:
    if dpi <= OSD_DPI * 1.2:
        return page
    factor = OSD_DPI / dpi
    small = page.resize((round(page.width * factor), round(page.height * factor)),
                        Image.Resampling.BOX)
    small.info["dpi"] = (OSD_DPI, OSD_DPI)
    return small


def rotate_upright(image: Image.Image, orientation: Orientation) -> Image.Image:
    """Turn the page clockwise by ``orientation.angle`` (0/90/180/270), losslessly."""
    transpose = {
        90: Image.Transpose.ROTATE_270,  # PIL's ROTATE_n turns counter-clockwise
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_90,
    }.get(orientation.angle % 360)
    if transpose is None:
        return image
    out = image.transpose(transpose)
    out.info["dpi"] = image.info.get("dpi", (300, 300))
    return out


def _profile_score(mask: Image.Image, angle: float) -> float:
    rotated = mask.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    rows = list(rotated.resize((1, rotated.height), Image.Resampling.BOX).get_flattened_data())
    return float(sum((a - b) ** 2 for a, b in zip(rows, rows[1:], strict=False)))


def estimate_skew(image: Image.Image) -> float:
    """Skew of the text lines in degrees (counter-clockwise positive), 0.0 when unsure.

    A projection-profile search on the ink mask: text lines are sharpest in the row profile
    when the page is straight. 1 degree steps over +-10 on a half-size mask, then 0.2 and 0.1
    steps around the best on the full mask (about 75 dpi). A page is only called skewed when
    that clearly beats the unrotated profile, so a straight page is never made worse.
    """
    mask = ink_mask(image)
    base = _profile_score(mask, 0.0)
    if base <= 0:
        return 0.0
    half = mask.resize((max(1, mask.width // 2), max(1, mask.height // 2)), Image.Resampling.BOX)
    limit = int(MAX_SKEW_DEGREES)
    best = float(max(range(-limit, limit + 1), key=lambda a: _profile_score(half, -a)))
    for step, reach in ((0.2, 3), (0.1, 1)):
        candidates = [round(best + step * i, 2) for i in range(-reach, reach + 1)]
        best = max(candidates, key=lambda a: _profile_score(mask, -a))
    if abs(best) < MIN_SKEW_DEGREES or _profile_score(mask, -best) < base * SKEW_MIN_GAIN:
        return 0.0
    return round(best, 2)


def rotate_small(image: Image.Image, angle: float) -> Image.Image:
    """Rotate by a small angle (counter-clockwise positive), same size, corners in paper colour."""
    paper = paper_colour(image)
    out = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=paper)
    out.info["dpi"] = image.info.get("dpi", (300, 300))
    return out


def paper_colour(image: Image.Image) -> int | tuple[int, ...]:
    grey = ImageOps.grayscale(image) if image.mode != "L" else image
    hist = grey.histogram()
    level = max(range(256), key=lambda v: hist[v])
    return (level,) * 3 if image.mode == "RGB" else level
