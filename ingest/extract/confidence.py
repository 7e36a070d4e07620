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
  about once in 31.

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

from ingest.extract.plausibility import confirmed, implausible
from ingest.extraction_rules import load_extraction_rules
from ingest.fields import Field, compact, compact_lines

#: Below this confidence a field is shown as doubtful even without a reason (the page's rule).
LOW_CONFIDENCE = 0.6
#: A doubtful field's confidence is at most this.
DOUBT_CAP = 0.5
#: Reasons stating a fact about the document (it has expired), not a doubt about a reading.
STATUS_REASONS = frozenset({"expired", "expiring"})
#: Reasons that only explain how a value was read; not doubts by themselves.
INFO_REASONS = frozenset({"reread"})
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


def assess_fields(
    document_type: str,
    fields: Mapping[str, Field],
    *,
    pages: Sequence[Sequence[tuple[str, float]]] = (),
    texts: Sequence[str] = (),
    today: date | None = None,
) -> dict[str, Field]:
    """Each field's confidence and doubts from OCR scores and plausibility rules.

    Args:
        document_type: The taxonomy code the fields were read for.
        fields: The extracted fields (page numbers 1-based within ``pages``).
        pages: Per page of the document, its :func:`word_scores` (empty for a page that had
            its own text layer or no words).
        texts: Per page, its text (for labels printed without a value).
        today: Reference day for date plausibility (default: today).

    Returns:
        The fields with confidence set and doubt reasons added; a doubtful field's
        confidence is at most :data:`DOUBT_CAP`.
    """
    scored_pages = [ScoredText.of(words) if words else None for words in pages]
    page_lines = [line for text in texts for line in compact_lines(text)]
    day = today or date.today()
    out: dict[str, Field] = {}
    for name, f in fields.items():
        text = scored_pages[f.page - 1] if 0 < f.page <= len(scored_pages) else None
        vouched = confirmed(document_type, name, f, fields)
        scored = _scored(name, f, text, vouched=vouched)
        extra = implausible(document_type, name, scored, fields, today=day)
        extra += _unread(document_type, name, scored, page_lines)
        reasons = list(dict.fromkeys([*scored.reasons, *extra]))
        confidence = scored.confidence
        if reading_doubts(reasons) and scored.value is not None:
            confidence = min(confidence, DOUBT_CAP)
        out[name] = replace(scored, reasons=reasons, confidence=confidence)
    return out
