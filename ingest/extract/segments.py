"""Split normalized OCR lines at printed labels into label/value segments.

A label counts where the page prints it as one: at the start of a line (after a numbering such
as ``3.``), before a colon, after a form's required-field mark (``*``, ``※``), or anywhere for
long labels and labels configured ``position = "anywhere"``. Lines without a label continue the
value before them, unless they start with a required-field mark before a label this type does
not read (``*开户行``): such a line ends the value before it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.extraction_rules import FieldRule

#: Marks forms print before a required field's label.
LABEL_MARKS = "*※"


@dataclass
class Segment:
    """The text after one label: the rest of its line, then following lines without labels."""

    rule: FieldRule | None  # None: a stop label (or a field of no interest)
    pieces: list[str]
    before: str = ""  # the line's text between the label and the label before it (or start)


_NUMBERING = re.compile(r"^(?:\d{1,2}[.、)]|[一二三四五六七八九十]{1,3}[、.]|\(\d{1,2}\))")
# A line opening with a required-field mark before a label this type has no rule for. (Not any
# "xx:" line: a license's scope wraps onto lines such as "许可项目:...".)
_UNKNOWN_LABEL_LINE = re.compile(r"^[*※][\u4e00-\u9fff]{2,8}")


def label_index(
    rules: tuple[FieldRule, ...], stops: tuple[str, ...]
) -> tuple[re.Pattern[str], dict[str, FieldRule | None]]:
    """A regex matching every label and stop (longest first) and label -> rule."""
    by_label: dict[str, FieldRule | None] = {s.casefold(): None for s in stops}
    for rule in rules:
        for label in rule.labels:
            by_label.setdefault(label.casefold(), rule)
    ordered = sorted(by_label, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(label) for label in ordered), re.IGNORECASE)
    return pattern, by_label


# What a value of a typed kind starts with: a short label inside a line counts when the text
# after it reads as its kind ("地址 … 邮箱 tian@example.com", "… 电话 131-7618-6762").
TYPED_START = {
    "email": re.compile(r"[A-Za-z0-9._%+\-]+@"),
    "phone": re.compile(r"(?:\+?86)?\(?0?\d{2,3}\)?-?\d{3,4}-?\d{4}"),
    "date": re.compile(r"(?:19|20)\d{2}[年.\-/]"),
    "uscc": re.compile(r"[0-9A-Z]{15}"),
    "id_number": re.compile(r"\d{15}"),
}


def _accepted(rule: FieldRule | None, line: str, start: int, end: int) -> bool:
    numbering = _NUMBERING.match(line)
    at_start = start == (numbering.end() if numbering else 0)
    before_colon = line[end : end + 1] == ":" or line[end : end + 2] in ("):",)
    marked = start > 0 and line[start - 1] in LABEL_MARKS
    position = rule.position if rule else "auto"
    if position == "anywhere" or at_start or before_colon or marked:
        return True
    typed = TYPED_START.get(rule.kind) if rule else None
    if position == "auto" and typed is not None and typed.match(line, end):
        return True
    return position == "auto" and end - start >= 4


def _continuation_target(line_segments: list[Segment]) -> Segment:
    """Where lines without labels go: after a two-column row (经营范围 ... 住所 ...), the
    wrapped lines mostly belong to the left column's long value, so the first multi-line
    field of the row takes them."""
    multiline = [s for s in line_segments if s.rule and s.rule.kind == "multiline"]
    return multiline[0] if multiline else line_segments[-1]


def label_hits(
    line: str, pattern: re.Pattern[str], by_label: dict[str, FieldRule | None]
) -> list[tuple[int, int, FieldRule | None]]:
    """Where labels stand in one line: ``(start, end, rule)``, rule None for a stop label or
    the required-field mark of a label this type does not read (the value before it ends)."""
    hits = [
        (m.start(), m.end(), by_label[m.group(0).casefold()])
        for m in pattern.finditer(line)
        if _accepted(by_label[m.group(0).casefold()], line, m.start(), m.end())
    ]
    if not hits and _UNKNOWN_LABEL_LINE.match(line):
        return [(0, 0, None)]  # a field we do not read starts here: the value before ends
    return hits


def split_segments(
    lines: list[str], pattern: re.Pattern[str], by_label: dict[str, FieldRule | None]
) -> list[Segment]:
    """The label/value segments of the page, in reading order."""
    segments: list[Segment] = []
    target: Segment | None = None
    for line in lines:
        hits = label_hits(line, pattern, by_label)
        head_end = hits[0][0] if hits else len(line)
        if target is not None and line[:head_end]:
            target.pieces.append(line[:head_end])
        line_segments = []
        for i, (start, end, rule) in enumerate(hits):
            stop = hits[i + 1][0] if i + 1 < len(hits) else len(line)
            after_previous = hits[i - 1][1] if i else 0
            line_segments.append(Segment(rule, [line[end:stop]], line[after_previous:start]))
        if line_segments:
            segments.extend(line_segments)
            target = _continuation_target(line_segments)
    return segments


_LEADING_JUNK = re.compile(r"^(?:\([^)]{1,8}\))?[\s:;,.。、|_\-—~\"'“”‘’*※]*")
_TRAILING_JUNK = re.compile(r"[\s:;,、|_\-—~=\"'“”‘’©*※]+$")
_SYMBOLS = frozenset({"So", "Sm", "Sk"})  # not Sc: a value may start with ¥ or $


def clean(text: str, *, symbols: bool = True) -> str:
    """A value without separators, marks and (unless ``symbols`` is False: an option's tick
    boxes are its content) tick/box symbols at its ends."""
    text = _TRAILING_JUNK.sub("", _LEADING_JUNK.sub("", text))
    return _strip_symbols(text) if symbols else text.strip()


def _strip_symbols(text: str) -> str:
    """Drop symbols OCR reads from ticks, boxes and emblems (☑, ■, ★) at either end."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start]) in _SYMBOLS:
        start += 1
    while end > start and unicodedata.category(text[end - 1]) in _SYMBOLS:
        end -= 1
    return text[start:end].strip()


_STRAY = re.compile(r"[0-9A-Za-z]{1,2}")
_CONTENT = re.compile(r"[0-9A-Za-z\u4e00-\u9fff]")
#: Codes found by validity anywhere on the page (:mod:`.codes`), not by the text before a label.
_CODE_KINDS = ("uscc", "id_number")
#: Fewest letters and digits a value of these kinds has; fewer is an empty cell's noise.
_MIN_ALNUM = {"uscc": 10, "id_number": 10, "phone": 6}


def is_empty_cell(rule: FieldRule, value: str) -> bool:
    """Whether a value is what OCR reads from an empty cell: a stray digit, a rule, nothing."""
    if not _CONTENT.search(value) or _STRAY.fullmatch(value):
        return True
    least = _MIN_ALNUM.get(rule.kind)
    return least is not None and len(re.findall(r"[0-9A-Za-z]", value)) < least


def segment_value(rule: FieldRule, segment: Segment) -> str:
    """The value text of a segment: one line (or the next when the label's line is empty), or
    up to ``max_lines`` lines for a multi-line field."""
    pieces = [clean(p, symbols=rule.kind != "option") for p in segment.pieces]
    if rule.kind == "multiline":
        first = next((i for i, p in enumerate(pieces) if p), None)
        if first is None:
            return ""
        # Keep the punctuation between lines (a scope's "；" at a line end).
        return clean("".join(segment.pieces[first : first + rule.max_lines]))
    # Value on the label's line, or (label and value on separate lines) on the next one. A
    # cell on the label's line holding only noise is empty: the next line is another field.
    value = next((p for p in pieces[:2] if p), "")
    typed = TYPED_START.get(rule.kind)
    if typed is not None and value and not typed.match(value):
        # A row of labels above a row of values: the typed value may be a line further down.
        value = next((p for p in pieces[:3] if typed.match(p)), value)
    if not value and typed is not None and rule.kind not in _CODE_KINDS:
        # Nothing after the label: a value of its kind printed just before it on its line
        # ("2019年03月17日 成立日期": a label set above its value, read into one line; or
        # "法定代表人李海燕 2014年03月18日成立日期", the value closing the label before's text,
        # which that field's own cut removes).
        before = clean(segment.before)
        starts = [m.start() for m in typed.finditer(before)]
        value = before[starts[-1]:] if starts else ""
    return "" if value and is_empty_cell(rule, value) else value
