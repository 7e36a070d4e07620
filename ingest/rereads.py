"""Key codes (USCC, ID number) re-read from the page image when the page text gives no valid one.

The value region is where the page prints the value: right of its label on the label's line,
or, when that gives nothing valid, under the label (the current license prints the USCC in the
top-left under ``统一社会信用代码``, beside the QR code). The readings that validate replace the
text's value in :func:`apply_rereads`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date

from PIL import Image

from ingest.classify import classify
from ingest.extract import cross_check_id, extract_fields
from ingest.extract.geometry import PageLayout
from ingest.fields import Field, correct_code
from ingest.ocr.base import OcrEngine, OcrResult, code_region_after_label, code_region_below_label
from models.validation import USCC_CHARSET, id_number_is_valid, uscc_is_valid

log = logging.getLogger("dossier.ingest")

#: Key fields re-read from the page image when the text gives no valid value:
#: field -> (document types whose text is checked, labels next to the value, check, alphabet).
_KEY_CODES: dict[str, tuple[frozenset[str], tuple[str, ...], Callable[[str], bool], str]] = {
    "uscc": (
        frozenset({"business_license", "customer_form"}),
        ("统一社会信用代码", "社会信用代码", "信用代码"),
        uscc_is_valid,
        USCC_CHARSET,
    ),
    "id_number": (
        frozenset({"id_card", "customer_form"}),
        ("公民身份号码", "身份证号码", "公民身份号", "身份证号", "证件号码"),
        id_number_is_valid,
        "0123456789X",
    ),
}
#: Field reasons that call for a re-read of the value region.
REREAD_WHEN = frozenset(
    {
        "missing",
        "uscc_check_digit",
        "id_check_digit",
        "uscc_corrected",
        "id_corrected",
        "uscc_format",
        "id_format",
        "id_birth_date",
    }
)
CONF_REREAD = 0.9
CONF_REREAD_CORRECTED = 0.6


def reread_key_codes(
    image: Image.Image,
    ocr: OcrResult,
    *,
    engine: OcrEngine,
    today: date | None = None,
    layout: PageLayout | None = None,
) -> tuple[tuple[str, str, bool], ...]:
    """Re-read the USCC / ID number by its label when the page text gives no valid one.

    The page is classified on its own; for a type that carries the code, the code is extracted
    from the text (and ``layout``); when it is missing or fails its check digit (even if an
    OCR-confusion correction would repair it), the value region right of the label, then the
    one under it, is read again with the engine's ``reread_code`` (tesseract ``eng --psm 7``
    with a whitelist, red channel, a larger scale; a cascade then tries its other readers).
    Only readings that validate are returned, directly or after an OCR-confusion correction
    with exactly one valid candidate.

    Returns:
        ``(field, code, corrected)`` triples, e.g. ``(("uscc", "91330106MA2...", False),)``;
        empty when nothing was needed or nothing validated.
    """
    reread = getattr(engine, "reread_code", None)
    if reread is None or not ocr.words:
        return ()
    doc_type = classify(ocr.text).document_type
    found: list[tuple[str, str, bool]] = []
    for name, (types, labels, check, alphabet) in _KEY_CODES.items():
        if doc_type not in types:
            continue
        current = extract_fields(doc_type, ocr.text, today=today, layout=layout).get(name)
        if current is not None and not needs_reread(current):
            continue
        read = _reread_one(image, ocr, labels=labels, check=check, alphabet=alphabet, reread=reread)
        if read:
            found.append((name, *read))
    return tuple(found)


def needs_reread(f: Field) -> bool:
    """Missing (optional fields carry no reason then), invalid or only confusion-corrected."""
    return f.value is None or bool(REREAD_WHEN.intersection(f.reasons))


def _reread_one(
    image: Image.Image,
    ocr: OcrResult,
    *,
    labels: Sequence[str],
    check: Callable[[str], bool],
    alphabet: str,
    reread: Callable[..., str],
) -> tuple[str, bool] | None:
    """The re-read code and whether it needed an OCR-confusion correction, or None."""
    for label in labels:
        regions = [
            code_region_after_label(ocr.words, label, image_width=image.width),
            code_region_below_label(
                ocr.words, label, image_width=image.width, image_height=image.height
            ),
        ]
        regions = [r for r in regions if r is not None]
        if not regions:
            continue
        corrected = None
        for region in regions:
            code = reread(image, region, validate=lambda v: check(v[:18]))[:18]
            if check(code):
                return code, False
            fixed, changed = correct_code(code, check, alphabet=alphabet)
            corrected = corrected or (fixed if fixed and changed else None)
        log.debug("key code re-read after %s: %s", label, "corrected" if corrected else "invalid")
        return (corrected, True) if corrected else None
    return None


def apply_rereads(merged: dict[str, Field], rereads: Sequence[tuple[int, tuple]]) -> None:
    """Replace a missing or invalid key code by a validated re-read of the page image.

    Args:
        merged: The document's fields, changed in place.
        rereads: ``(page number, the page's (field, code, corrected) triples)`` per page.

    The field gets the reason ``reread`` (informational: the code was read twice, the second
    time from the value region alone). A re-read that validated only after an OCR-confusion
    correction also gets ``uscc_corrected`` / ``id_corrected``, which keeps the document in
    review; so does a value the text gave only after such a correction, unless the re-read
    validated without one.
    """
    for number, page_rereads in rereads:
        for name, code, corrected in page_rereads:
            current = merged.get(name)
            if current is None or not needs_reread(current):
                continue
            kept = [r for r in current.reasons if r not in REREAD_WHEN]
            prefix = "uscc" if name == "uscc" else "id"
            extra = [f"{prefix}_corrected"] if corrected else []
            confidence = CONF_REREAD_CORRECTED if corrected else CONF_REREAD
            merged[name] = Field(code, confidence, number, [*kept, "reread", *extra], raw=code)
    if "id_number" in merged and any(r[0] == "id_number" for _, rs in rereads for r in rs):
        cross_check_id(merged)
