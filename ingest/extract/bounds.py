"""Where a value ends: cut off what OCR glued to it from the neighbouring field.

Real layouts put the issue date right after the address (``…文三路94号2020年02月07日``) or a
label's first characters after a value (``…1403室登记机``). A text value is cut before a
written-out date (a field that may hold dates loses only a date at its very end) and before a
trailing fragment of a label of its document type. Every cut is a reason on the field
(``trimmed_date``, ``trimmed_label``), so the reviewer sees that the value was shortened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from ingest.extract.segments import clean
from ingest.extraction_rules import FieldRule
from ingest.fields import printed_date_span

TRIMMED_DATE = "trimmed_date"
TRIMMED_LABEL = "trimmed_label"
#: A value cut where the page's layout ends it (:func:`ingest.extract.geometry.within_boxes`).
TRIMMED_LAYOUT = "trimmed_layout"
TRIMMED_KINDS = ("text", "multiline")
#: Shortest label fragment cut from a value's end; labels shorter than this are never cut.
_MIN_FRAGMENT = 3
#: Shortest value left after a cut (a cut that would leave less is not made).
_MIN_LEFT = 2
_CJK = re.compile(r"[\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Trimmed:
    """A value after its cuts: the reasons say what was cut; ``date`` is a cut-off date."""

    value: str
    reasons: tuple[str, ...] = ()
    date: str | None = None


@cache
def _fragments(labels: tuple[str, ...]) -> frozenset[str]:
    """Every run of at least three Chinese characters inside a label."""
    out: set[str] = set()
    for label in labels:
        for run in _CJK.findall(label):
            for i in range(len(run)):
                for j in range(i + _MIN_FRAGMENT, len(run) + 1):
                    out.add(run[i:j])
    return frozenset(out)


def _label_tail(value: str, fragments: frozenset[str]) -> int:
    """Length of the longest label fragment ending ``value`` (0 when none)."""
    longest = max((len(f) for f in fragments), default=0)
    for n in range(min(longest, len(value) - _MIN_LEFT), _MIN_FRAGMENT - 1, -1):
        if value[-n:] in fragments:
            return n
    return 0


def trim(rule: FieldRule, value: str, labels: tuple[str, ...]) -> Trimmed:
    """Cut a text value at a date it should not hold and at a trailing label fragment.

    Args:
        rule: The field's rule (only ``text`` and ``multiline`` kinds are cut).
        value: The cleaned value (compact: no spaces).
        labels: Every label and stop printed on this document type.
    """
    if rule.kind not in TRIMMED_KINDS:
        return Trimmed(value)
    reasons: list[str] = []
    cut_date = None
    span = printed_date_span(value)
    if span and rule.dates_allowed and clean(value[span[1] :]):
        span = None  # a date inside the text is content; only one ending it was swallowed
    if span and span[0] >= _MIN_LEFT:
        cut_date = value[span[0] : span[1]]
        value = clean(value[: span[0]])
        reasons.append(TRIMMED_DATE)
    tail = _label_tail(value, _fragments(labels))
    if tail:
        value = clean(value[:-tail])
        reasons.append(TRIMMED_LABEL)
    return Trimmed(value, tuple(reasons), cut_date)
