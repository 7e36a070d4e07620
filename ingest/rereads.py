"""Values read a second time from the page image: key codes when the text gives no valid one,
and key names and dates by the other engine where the text engine was unsure of them.

Codes: the value region is where the page prints the value: right of its label on the label's line,
or, when that gives nothing valid, under the label (the current license prints the USCC in the
top-left under ``统一社会信用代码``, beside the QR code). The readings that validate replace the
text's value in :func:`apply_rereads`.

Second readings (:func:`second_readings`): the cascade reads the page text with RapidOCR; a
key field's value (names, dates: :func:`ingest.extract.confidence.agreement_field`) whose
characters RapidOCR scored below :data:`SECOND_READ_BELOW` is found again among the engine's
boxes and read there by tesseract (all such values of a page in one run). Whether the two
readings agree is judged by :func:`ingest.extract.confidence.assess_fields`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from PIL import Image

from ingest.classify import classify
from ingest.extract import cross_check_id, extract_fields
from ingest.extract.confidence import agreement_field, reading_doubts
from ingest.extract.geometry import PageLayout
from ingest.fields import Field, compact, compact_lines, correct_code
from ingest.ocr.base import (
    OcrEngine,
    OcrResult,
    Word,
    code_region_after_label,
    code_region_below_label,
    words_holding,
)
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
#: A key name or date read from characters the text engine scored below this (0..1) is read
#: again by the other engine (1.0 and above: every key name and date; see
#: docs/benchmarks-accuracy.md for the cost of each).
SECOND_READ_BELOW = 0.95

#: One second reading: (field, the text engine's score of its characters, the other engine's
#: text, its confidence 0..1).
Reading = tuple[str, float, str, float]


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
    return reread_page(image, ocr, engine=engine, today=today, layout=layout, second=False).codes


@dataclass(frozen=True)
class PageRereads:
    """What :func:`reread_page` read again on one page, and the seconds the second readings
    took (the part of the page's OCR time they add)."""

    codes: tuple[tuple[str, str, bool], ...] = ()
    readings: tuple[Reading, ...] = ()
    second_seconds: float = 0.0


def reread_page(
    image: Image.Image,
    ocr: OcrResult,
    *,
    engine: OcrEngine,
    today: date | None = None,
    layout: PageLayout | None = None,
    second: bool = True,
    second_below: float | None = None,
) -> PageRereads:
    """Key codes re-read (:func:`reread_key_codes`) and, with ``second``, the second readings
    of unsure key names and dates (:func:`second_readings`; ``second_below`` defaults to
    :data:`SECOND_READ_BELOW`): the page is classified and its fields extracted once for
    both."""
    reread = getattr(engine, "reread_code", None)
    other = getattr(engine, "second_reading", None) if second else None
    if not ocr.words:
        return PageRereads()
    doc_type = classify(ocr.text).document_type
    has_codes = reread is not None and any(doc_type in t for t, *_ in _KEY_CODES.values())
    if not has_codes and other is None:
        return PageRereads()
    fields = extract_fields(doc_type, ocr.text, today=today, layout=layout)
    codes = _reread_codes(image, ocr, doc_type, fields, reread) if has_codes else ()
    started = time.monotonic()
    readings = (
        second_readings(image, ocr.words, doc_type, fields, other, below=second_below)
        if other
        else ()
    )
    return PageRereads(codes, readings, round(time.monotonic() - started, 3))


def _reread_codes(
    image: Image.Image,
    ocr: OcrResult,
    doc_type: str,
    fields: dict[str, Field],
    reread: Callable[..., str],
) -> tuple[tuple[str, str, bool], ...]:
    """The key codes of ``fields`` that are missing or invalid, read again by their labels."""
    found: list[tuple[str, str, bool]] = []
    for name, (types, labels, check, alphabet) in _KEY_CODES.items():
        if doc_type not in types:
            continue
        current = fields.get(name)
        if current is not None and not needs_reread(current):
            continue
        read = _reread_one(image, ocr, labels=labels, check=check, alphabet=alphabet, reread=reread)
        if read:
            found.append((name, *read))
    return tuple(found)


def second_readings(
    image: Image.Image,
    words: Sequence[Word],
    doc_type: str,
    fields: dict[str, Field],
    read: Callable[..., list[tuple[str, float]]],
    *,
    below: float | None = None,
) -> tuple[Reading, ...]:
    """The other engine's reading of each key name and date the text engine scored below
    ``below`` (default :data:`SECOND_READ_BELOW`).

    Each such value is found again among the page's words (its characters in one line); the
    box of the words holding it, a little enlarged, is read by ``read`` (all boxes of the page
    at once). A value not found among the words is not read again.
    """
    below = SECOND_READ_BELOW if below is None else below
    chosen: list[tuple[str, float, tuple[int, int, int, int]]] = []
    for name, f in fields.items():
        if f.value is None or reading_doubts(f.reasons) or not agreement_field(doc_type, name):
            continue
        found = value_box(words, f.raw or str(f.value), image.size)
        if found is not None and found[1] < below:
            chosen.append((name, found[1], found[0]))
    if not chosen:
        return ()
    texts = read(image, [box for _, _, box in chosen])
    return tuple(
        (name, score, text, conf)
        for (name, score, _), (text, conf) in zip(chosen, texts, strict=False)
    )


def value_box(
    words: Sequence[Word], value: str, size: tuple[int, int]
) -> tuple[tuple[int, int, int, int], float] | None:
    """The box (padded by a quarter of the line height, within ``size``) of the words of one
    line that hold ``value``, and the lowest score (0..1) among them; None when not found."""
    needle = compact(value)
    if not needle:
        return None
    found = words_holding(words, needle, normalize=lambda t: "".join(compact_lines(t)))
    if found is None:
        return None
    held = found[0]
    pad = max(w.height for w in held) // 4
    box = (
        max(0, min(w.left for w in held) - pad),
        max(0, min(w.top for w in held) - pad),
        min(size[0], max(w.left + w.width for w in held) + pad),
        min(size[1], max(w.top + w.height for w in held) + pad),
    )
    return box, min(max(0.0, w.confidence) for w in held) / 100


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
        cross_check_id(merged, keys=set(merged))
