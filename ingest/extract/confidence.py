"""Field confidence that means something: the OCR engine's own scores, plausibility, agreement.

Applied after extraction (:func:`assess_fields`, called by :mod:`ingest.pipeline` on a
document's merged fields):

* **OCR scores**: each value is found again in the page's scored words (RapidOCR's line
  scores, tesseract's word confidences; :func:`word_scores` keeps them from the engine's
  result) and its confidence is the lowest score of the characters it was read from, weighed
  by how it was found (after its label, by a pattern, anywhere on the page). A value read
  from a low-scoring stretch gets ``low_ocr_score``. A value from a PDF's own text layer has
  no engine score and keeps the extraction's confidence.
* **Plausibility** per field (:mod:`ingest.extract.plausibility`): a name with digits, a date
  outside a sane range, an amount out of range, an address without any place word, a value
  that belongs to the other kind of customer, ...
* **Agreement between engines**: the cascade reads the page text with RapidOCR and re-reads
  key codes with tesseract (then RapidOCR's recognizer) when the text gives no valid one
  (``reread``, ``code_conflict``: see :mod:`ingest.pipeline` and :mod:`.codes`). A code whose
  check digit validates is trusted over a low OCR score: a misread code passes its check digit
  about once in 31. Key names and dates (:func:`agreement_field`) RapidOCR was unsure of are
  read again by tesseract (:func:`ingest.rereads.second_readings`): when both read the value
  it is ``engines_agree`` (informational; its confidence rises to :data:`AGREED_CONFIDENCE`
  and a low score is not held against it), when tesseract confidently read something else it
  is ``engines_disagree`` (a doubt).
* **Cuts** (:mod:`.bounds`): a value cut short at a swallowed date or label keeps the doubt
  ``trimmed_date`` / ``trimmed_label`` unless the cut is plainly right: the value left is well
  formed (:func:`ingest.extract.plausibility.well_formed`: an address ending in 号, 室, ...),
  has no other doubt, and the page shows what was cut to be a whole date and/or the start of
  one of the document's labels (a cut at the edge of the value's box, ``trimmed_layout``,
  needs only the well-formed value). Then it is the note ``trimmed_date_clean`` /
  ``trimmed_label_clean`` / ``trimmed_layout_clean``: shown to the reviewer, not a doubt.

Every doubt is a reason code on the field (Chinese labels in config/taxonomy.toml
``[review_reasons]``); :func:`is_flagged` is the one test of whether a reviewer must look at a
field, used by the document page and the accuracy bench alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from typing import Any

from ingest.extract.plausibility import (
    END_DATES,
    ORG_NAMES_OF,
    PERSON_NAMES,
    PERSON_NAMES_OF,
    START_DATES,
    confirmed,
    implausible,
    well_formed,
)
from ingest.extraction_rules import load_extraction_rules
from ingest.fields import Field, compact, compact_lines, find_dates, printed_date_span

#: Below this confidence a field is shown as doubtful even without a reason (the page's rule).
LOW_CONFIDENCE = 0.6
#: A doubtful field's confidence is at most this.
DOUBT_CAP = 0.5
#: Reasons stating a fact about the document (it has expired), not a doubt about a reading.
STATUS_REASONS = frozenset({"expired", "expiring"})
#: Reasons that only explain how a value was read; not doubts by themselves.
INFO_REASONS = frozenset(
    {"reread", "engines_agree", "trimmed_date_clean", "trimmed_label_clean",
     "trimmed_layout_clean", "from_id_number"}
)
#: A cut (:mod:`.bounds`) -> the note it becomes when it is plainly right (see the module doc).
TRIM_NOTES = {
    "trimmed_date": "trimmed_date_clean",
    "trimmed_label": "trimmed_label_clean",
    "trimmed_layout": "trimmed_layout_clean",  # stopped where its box ends (geometry)
}
#: The other engine's reading is an opinion from this mean word confidence (0..1) on.
SECOND_OPINION = 0.6
#: A value both engines read alike has at least this confidence.
AGREED_CONFIDENCE = 0.95
#: The document review reason of a field doubt that has no reason of its own at that level.
DOUBTFUL_FIELD = "doubtful_field"
#: Field doubts (this module's, the plausibility rules', the cuts of :mod:`.bounds` and the
#: conversions' own) that make their document a ``doubtful_field`` one.
DOUBT_REASONS = (
    "low_ocr_score",
    "person_name_implausible",
    "org_name_implausible",
    "date_implausible",
    "amount_implausible",
    "address_implausible",
    "code_format",
    "option_unknown",
    "same_party",
    "rare_character",
    "unbalanced_brackets",
    "ocr_confusable",
    "value_unread",
    "trimmed_date",
    "trimmed_label",
    "trimmed_layout",
    "date_unparsed",
    "date_range",
    "amount_unparsed",
    "gender_unparsed",
    "phone_format",
    "email_format",
    "code_unparsed",
    "engines_disagree",
)
#: A value read from characters the engine scored below this (0..1) is doubtful, unless an
#: independent check vouches for it (:func:`ingest.extract.plausibility.confirmed`). On the
#: accuracy bench one-character values read right scored 0.82-0.89 and the lowest right longer
#: value 0.88; at 0.9 without the exception 52 values were flagged, 8 of them wrong
#: (docs/benchmarks-accuracy.md, flag table).
LOW_OCR_SCORE = 0.85
#: How much of the OCR score each way of finding a value keeps (by its extraction confidence).
_METHOD_WEIGHTS = ((0.9, 1.0), (0.85, 0.95), (0.7, 0.8))


def reading_doubts(reasons: Iterable[str]) -> list[str]:
    """The reasons that doubt the reading (status and informational reasons left out)."""
    return [r for r in reasons if r not in STATUS_REASONS and r not in INFO_REASONS]


def is_flagged(field: Mapping[str, Any]) -> bool:
    """Whether a stored field (``{"value", "confidence", "reasons"}``) needs a reviewer's eye."""
    if reading_doubts(field.get("reasons") or ()):
        return True
    confidence = field.get("confidence")
    return (
        field.get("value") not in (None, "")
        and isinstance(confidence, int | float)
        and confidence < LOW_CONFIDENCE
    )


def word_scores(words: Iterable[Any]) -> tuple[tuple[str, float], ...]:
    """An engine's words as ``(compact text, score 0..1)``, in reading order.

    ``words`` are :class:`ingest.ocr.base.Word` (confidence 0..100; tesseract gives -1 for
    non-words, kept as 0). The text is compacted as extraction compacts page lines, so a
    value's characters can be found again.
    """
    out = []
    for w in words:
        text = "".join(compact_lines(w.text))
        if text:
            out.append((text, max(0.0, min(1.0, float(w.confidence) / 100))))
    return tuple(out)


@dataclass(frozen=True)
class ScoredText:
    """A page's characters in reading order, each with the score of the word it came from."""

    text: str
    scores: tuple[float, ...]

    @classmethod
    def of(cls, words: Sequence[tuple[str, float]]) -> ScoredText:
        text = "".join(t for t, _ in words)
        scores = tuple(s for t, s in words for _ in t)
        return cls(text, scores)

    def score_of(self, value: str | None) -> float | None:
        """The lowest score of the characters ``value`` was read from; None when not found."""
        needle = compact(value or "")
        if not needle or not self.text:
            return None
        at = self.text.find(needle)
        if at < 0 and len(needle) > 8:  # a value joined from two pieces: its two halves
            half = len(needle) // 2
            parts = [self.score_of(needle[:half]), self.score_of(needle[half:])]
            return min(parts) if None not in parts else None  # type: ignore[type-var]
        if at < 0:
            return None
        return min(self.scores[at : at + len(needle)])


def _method_weight(confidence: float) -> float:
    for threshold, weight in _METHOD_WEIGHTS:
        if confidence >= threshold:
            return weight
    return 0.7


def _scored(name: str, f: Field, text: ScoredText | None, *, vouched: bool) -> Field:
    """The field's confidence from its characters' OCR scores (a low score is a doubt unless
    an independent check vouches for the value)."""
    if f.value is None or text is None or not text.text:
        return f
    score = text.score_of(f.raw) if f.raw else None
    if score is None:
        score = text.score_of(str(f.value))
    if score is None:
        return f
    confidence = round(_method_weight(f.confidence) * score, 3)
    reasons = list(f.reasons)
    if score < LOW_OCR_SCORE and not vouched:
        reasons.append("low_ocr_score")
    return replace(f, confidence=confidence, reasons=reasons)


@cache
def _labels_of(document_type: str) -> dict[str, tuple[str, ...]]:
    """Field -> the printed labels that introduce it, for one document type."""
    out: dict[str, tuple[str, ...]] = {}
    for rule in load_extraction_rules().fields.get(document_type, ()):
        for key in rule.outputs:
            out[key] = out.get(key, ()) + rule.labels
    return out


def _unread(document_type: str, name: str, f: Field, lines: Sequence[str]) -> list[str]:
    """``value_unread``: no value, yet a line of the page starts with the field's label (a
    filled-in cell the engine did not see, or an empty one: the reviewer looks)."""
    if f.value is not None or "missing" in f.reasons or not lines:
        return []
    labels = tuple(label for label in _labels_of(document_type).get(name, ()) if len(label) >= 2)
    return ["value_unread"] if labels and any(line.startswith(labels) for line in lines) else []


def agreement_field(document_type: str, name: str) -> bool:
    """Whether the other engine reads the field again where the text engine was unsure: a
    person's or an organization's name, a date."""
    return (
        name in PERSON_NAMES
        or (document_type, name) in PERSON_NAMES_OF
        or (document_type, name) in ORG_NAMES_OF
        or name in ("customer_name", "birth_date")
        or name in START_DATES
        or name in END_DATES
    )


def agreement(
    name: str, f: Field, text: str, confidence: float, *, labels: Sequence[str] = ()
) -> bool | None:
    """Whether the other engine's reading (``text``, mean confidence 0..1) of the value's box
    agrees with the value: True when it holds the value (a date: the same day); False when it
    confidently read another value in its place: another day, or (after a leading label of
    ``labels`` and punctuation) as many characters as the value with some, at most half, of
    them different; None otherwise (unsure; nothing like the value; characters split or
    merged, tesseract's usual way of misreading Chinese, e.g. 军 as 和车)."""
    read = "".join(compact_lines(text))
    value = compact(str(f.value or ""))
    if not value or not read:
        return None
    if name == "birth_date" or name in START_DATES or name in END_DATES:
        days = {d.isoformat() for d in find_dates(read)}
        if value in days or value in read:  # (长期 is printed as it is stored)
            return True
        is_day = value[:4].isdigit()
        return False if is_day and days and confidence >= SECOND_OPINION else None
    if value in read:
        return True
    label = max((la for la in labels if read.startswith(la)), key=len, default="")
    rest = read[len(label) :].lstrip(":：\"“”'‘’·.,，")
    differ = sum(a != b for a, b in zip(rest, value, strict=False))
    if confidence >= SECOND_OPINION and len(rest) == len(value) and differ <= len(value) // 2:
        return False
    return None


@cache
def _printed_labels(document_type: str) -> tuple[str, ...]:
    """Every label and stop printed on a document type, compact."""
    rules = load_extraction_rules()
    labels = [label for rule in rules.fields.get(document_type, ()) for label in rule.labels]
    labels += rules.stops.get(document_type, ())
    return tuple(dict.fromkeys(c for c in map(compact, labels) if c))


def _cut_is_whole(document_type: str, rest: str, cuts: set[str]) -> bool:
    """Whether ``rest`` (the page text after a cut value) starts with what the cuts say was
    cut: a whole date (``trimmed_date``), then at least three characters that begin one of
    the document's labels (``trimmed_label``). A cut at the edge of the value's box
    (``trimmed_layout``) alone needs nothing more: the page's geometry placed it."""
    if "trimmed_date" in cuts:
        span = printed_date_span(rest)
        if span is None or span[0] != 0:
            return False
        rest = rest[span[1] :]
    if "trimmed_label" in cuts:
        labels = _printed_labels(document_type)
        return any(len(label) >= 3 and rest.startswith(label[:3]) for label in labels)
    return True


def _trim_notes(
    document_type: str, name: str, f: Field, reasons: list[str], fields: Mapping[str, Field],
    page_text: str,
) -> list[str]:
    """The reasons with plainly right cuts turned into notes (:data:`TRIM_NOTES`)."""
    cuts = {r for r in reasons if r in TRIM_NOTES}
    value = compact(str(f.value or ""))
    if not cuts or set(reading_doubts(reasons)) - cuts or not page_text:
        return reasons
    if not well_formed(document_type, name, value, fields):
        return reasons
    at = page_text.find(value)
    while at >= 0:
        if _cut_is_whole(document_type, page_text[at + len(value) :], cuts):
            return [TRIM_NOTES.get(r, r) for r in reasons]
        at = page_text.find(value, at + 1)
    return reasons


def assess_fields(
    document_type: str,
    fields: Mapping[str, Field],
    *,
    pages: Sequence[Sequence[tuple[str, float]]] = (),
    texts: Sequence[str] = (),
    readings: Sequence[Sequence[tuple[str, float, str, float]]] = (),
    today: date | None = None,
) -> dict[str, Field]:
    """Each field's confidence and doubts from OCR scores, plausibility rules and the
    agreement of the two engines.

    Args:
        document_type: The taxonomy code the fields were read for.
        fields: The extracted fields (page numbers 1-based within ``pages``).
        pages: Per page of the document, its :func:`word_scores` (empty for a page that had
            its own text layer or no words).
        texts: Per page, its text (for labels printed without a value, and what cuts removed).
        readings: Per page, the other engine's readings ``(field, the text engine's score,
            text, confidence)`` (:func:`ingest.rereads.second_readings`).
        today: Reference day for date plausibility (default: today).

    Returns:
        The fields with confidence set and doubt reasons added; a doubtful field's
        confidence is at most :data:`DOUBT_CAP`.
    """
    scored_pages = [ScoredText.of(words) if words else None for words in pages]
    page_texts = ["".join(compact_lines(text)) for text in texts]
    page_lines = [line for text in texts for line in compact_lines(text)]
    second = [{r[0]: (r[2], r[3]) for r in page} for page in readings]
    day = today or date.today()
    out: dict[str, Field] = {}
    for name, f in fields.items():
        on_page = 0 < f.page <= len(scored_pages)
        text = scored_pages[f.page - 1] if on_page else None
        read = second[f.page - 1].get(name) if 0 < f.page <= len(second) else None
        agrees = (
            agreement(name, f, *read, labels=_printed_labels(document_type))
            if read and f.value is not None
            else None
        )
        vouched = confirmed(document_type, name, f, fields) or agrees is True
        scored = _scored(name, f, text, vouched=vouched)
        extra = implausible(document_type, name, scored, fields, today=day)
        extra += _unread(document_type, name, scored, page_lines)
        extra += {True: ["engines_agree"], False: ["engines_disagree"], None: []}[agrees]
        reasons = list(dict.fromkeys([*scored.reasons, *extra]))
        page_text = page_texts[f.page - 1] if 0 < f.page <= len(page_texts) else ""
        reasons = _trim_notes(document_type, name, scored, reasons, fields, page_text)
        confidence = scored.confidence
        if agrees:
            confidence = max(confidence, AGREED_CONFIDENCE)
        if reading_doubts(reasons) and scored.value is not None:
            confidence = min(confidence, DOUBT_CAP)
        out[name] = replace(scored, reasons=reasons, confidence=confidence)
    return out
