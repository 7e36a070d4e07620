"""Extract the fields of a classified document from its OCR text (pure functions).

Labels, patterns and field kinds are data (config/understanding.toml, loaded by
:mod:`ingest.extraction_rules`). The text is normalized line by line (half-width, no spaces),
split at the printed labels into label/value segments, and each value is converted by its kind.
Codes with check digits (USCC, ID number) are checked and, when they fail, repaired only if
exactly one OCR-confusion candidate validates. Doubts are review reasons on the field, never
exceptions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from ingest.extraction_rules import ExtractionRules, FieldRule, load_extraction_rules
from ingest.fields import (
    LONG_TERM,
    Field,
    compact_lines,
    correct_code,
    expiry_reasons,
    find_dates,
    format_amount,
    is_long_term,
    parse_amount,
    parse_date,
)
from models.validation import (
    USCC_CHARSET,
    ValidationError,
    id_birth_date,
    id_gender,
    id_number_is_valid,
    uscc_is_valid,
    validate_email,
    validate_id_number,
    validate_phone,
    validate_uscc,
)

CONF_LABELLED = 0.9
CONF_PATTERN = 0.85
CONF_ANYWHERE = 0.7
CONF_CORRECTED = 0.6
CONF_DOUBTFUL = 0.3
CONF_INVALID = 0.2


# --- segmenting the text at labels --------------------------------------------------------------


@dataclass
class _Segment:
    rule: FieldRule | None  # None: a stop label
    pieces: list[str]


_NUMBERING = re.compile(r"^(?:\d{1,2}[.、)]|[一二三四五六七八九十]{1,3}[、.]|\(\d{1,2}\))")


def _label_index(
    rules: tuple[FieldRule, ...], stops: tuple[str, ...]
) -> tuple[re.Pattern[str], dict[str, FieldRule | None]]:
    by_label: dict[str, FieldRule | None] = {s.casefold(): None for s in stops}
    for rule in rules:
        for label in rule.labels:
            by_label.setdefault(label.casefold(), rule)
    ordered = sorted(by_label, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(label) for label in ordered), re.IGNORECASE)
    return pattern, by_label


def _accepted(rule: FieldRule | None, line: str, start: int, end: int) -> bool:
    numbering = _NUMBERING.match(line)
    at_start = start == (numbering.end() if numbering else 0)
    before_colon = line[end : end + 1] == ":" or line[end : end + 2] in ("):",)
    position = rule.position if rule else "auto"
    if position == "anywhere" or at_start or before_colon:
        return True
    return position == "auto" and end - start >= 4


def _continuation_target(line_segments: list[_Segment]) -> _Segment:
    """Where lines without labels go: after a two-column row (经营范围 ... 住所 ...), the
    wrapped lines mostly belong to the left column's long value, so the first multi-line
    field of the row takes them."""
    multiline = [s for s in line_segments if s.rule and s.rule.kind == "multiline"]
    return multiline[0] if multiline else line_segments[-1]


def _segments(lines: list[str], pattern: re.Pattern[str], by_label: dict) -> list[_Segment]:
    segments: list[_Segment] = []
    target: _Segment | None = None
    for line in lines:
        hits = [
            (m.start(), m.end(), by_label[m.group(0).casefold()])
            for m in pattern.finditer(line)
            if _accepted(by_label[m.group(0).casefold()], line, m.start(), m.end())
        ]
        head_end = hits[0][0] if hits else len(line)
        if target is not None and line[:head_end]:
            target.pieces.append(line[:head_end])
        line_segments = []
        for i, (_start, end, rule) in enumerate(hits):
            stop = hits[i + 1][0] if i + 1 < len(hits) else len(line)
            line_segments.append(_Segment(rule, [line[end:stop]]))
        if line_segments:
            segments.extend(line_segments)
            target = _continuation_target(line_segments)
    return segments


_LEADING_JUNK = re.compile(r"^(?:\([^)]{1,8}\))?[\s:;,.。、|_\-—~\"'“”‘’]*")
_TRAILING_JUNK = re.compile(r"[\s:;,、|_\-—~=\"'“”‘’©]+$")


def _clean(text: str) -> str:
    text = _TRAILING_JUNK.sub("", _LEADING_JUNK.sub("", text))
    return _strip_symbols(text)


def _strip_symbols(text: str) -> str:
    """Drop symbols OCR reads from ticks, boxes and emblems (☑, ■, ★) at either end."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start]) in _SYMBOLS:
        start += 1
    while end > start and unicodedata.category(text[end - 1]) in _SYMBOLS:
        end -= 1
    return text[start:end].strip()


_SYMBOLS = frozenset({"So", "Sm", "Sk"})  # not Sc: a value may start with ¥ or $


def _segment_value(rule: FieldRule, segment: _Segment) -> str:
    pieces = [_clean(p) for p in segment.pieces]
    if rule.kind == "multiline":
        first = next((i for i, p in enumerate(pieces) if p), None)
        if first is None:
            return ""
        # Keep the punctuation between lines (a scope's "；" at a line end).
        return _clean("".join(segment.pieces[first : first + rule.max_lines]))
    # Value on the label's line, or (label and value on separate lines) on the next one.
    return next((p for p in pieces[:2] if p), "")


def _labelled_values(rule: FieldRule, segments: list[_Segment]) -> list[str]:
    values = [_segment_value(rule, s) for s in segments if s.rule is rule]
    return [
        v for v in values if v and (rule.value_regex is None or rule.value_regex.fullmatch(v))
    ]


# --- converting a value by kind -----------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    page: int
    today: date
    warning_days: int


def _field(value: str | None, confidence: float, ctx: _Context, reasons: list[str] | None = None,
           raw: str | None = None, unit: str | None = None) -> Field:
    return Field(value, round(confidence, 3), ctx.page, list(reasons or []), unit, raw)


def _code_token(text: str) -> str:
    runs = re.findall(r"[0-9A-Za-z]+", text)
    token = next((r for r in runs if len(r) >= 15), runs[0] if runs else "")
    return token[:18].upper()


def _checked_code(
    text: str, base: float, ctx: _Context, *, prefix: str, validate: Callable[[str], str],
    is_valid: Callable[[str], bool], alphabet: str,
) -> Field:
    token = _code_token(text)
    try:
        return _field(validate(token), min(base + 0.08, 0.98), ctx, raw=text)
    except ValidationError as e:
        reason = e.reason
    corrected, changed = correct_code(token, is_valid, alphabet=alphabet)
    if corrected and changed:
        return _field(corrected, CONF_CORRECTED, ctx, [f"{prefix}_corrected"], raw=text)
    return _field(token or None, CONF_INVALID, ctx, [reason], raw=text)


def _uscc(text: str, base: float, ctx: _Context) -> Field:
    return _checked_code(text, base, ctx, prefix="uscc", validate=validate_uscc,
                         is_valid=uscc_is_valid, alphabet=USCC_CHARSET)


def _id_number(text: str, base: float, ctx: _Context) -> Field:
    def validate(v: str) -> str:
        return validate_id_number(v, today=ctx.today)

    def is_valid(v: str) -> bool:
        return id_number_is_valid(v, today=ctx.today)

    return _checked_code(text, base, ctx, prefix="id", validate=validate, is_valid=is_valid,
                         alphabet="0123456789X")


def _date(text: str, base: float, ctx: _Context) -> Field:
    d = parse_date(text)
    if d is None:
        return _field(text, CONF_DOUBTFUL, ctx, ["date_unparsed"], raw=text)
    return _field(d.isoformat(), base, ctx, raw=text)


def _date_or_long(text: str, base: float, ctx: _Context) -> Field:
    if is_long_term(text) and parse_date(text) is None:
        return _field(LONG_TERM, base, ctx, raw=text)
    return _date(text, base, ctx)


def _amount(text: str, base: float, ctx: _Context) -> Field:
    parsed = parse_amount(text)
    if parsed is None:
        return _field(text, CONF_DOUBTFUL, ctx, ["amount_unparsed"], raw=text)
    number, unit = parsed
    return _field(format_amount(number), base, ctx, raw=text, unit=unit)


def _gender(text: str, base: float, ctx: _Context) -> Field:
    m = re.search("[男女]", text)
    if not m:
        return _field(text, CONF_DOUBTFUL, ctx, ["gender_unparsed"], raw=text)
    return _field(m.group(0), base, ctx, raw=text)


_PHONE_LIKE = re.compile(r"(?:\+?86)?[(]?0?\d[\d\-()]{5,16}\d(?:转\d{1,6})?")


def _phone(text: str, base: float, ctx: _Context) -> Field:
    m = _PHONE_LIKE.search(text)
    try:
        return _field(validate_phone(m.group(0) if m else text), base, ctx, raw=text)
    except ValidationError:
        return _field(text, CONF_DOUBTFUL, ctx, ["phone_format"], raw=text)


_EMAIL_LIKE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def _email(text: str, base: float, ctx: _Context) -> Field:
    m = _EMAIL_LIKE.search(text.replace("。", "."))
    try:
        return _field(validate_email(m.group(0) if m else text), base, ctx, raw=text)
    except ValidationError:
        return _field(text, CONF_DOUBTFUL, ctx, ["email_format"], raw=text)


def _code(text: str, base: float, ctx: _Context) -> Field:
    m = re.search(r"[0-9A-Za-z][0-9A-Za-z\-]*", text)
    if not m:
        return _field(text, CONF_DOUBTFUL, ctx, ["code_unparsed"], raw=text)
    return _field(m.group(0).strip("-"), base, ctx, raw=text)


_CHECKED = re.compile(r"[☑✓√✔■●☒]\s*")


def _option(text: str, base: float, ctx: _Context, options: tuple[str, ...]) -> Field:
    checked = _CHECKED.split(text, maxsplit=1)
    search_in = checked[1] if len(checked) == 2 else text
    found = [o for o in options if search_in.startswith(o)] or [o for o in options if o in text]
    if len(found) == 1:
        return _field(found[0], base, ctx, raw=text)
    return _field(text, CONF_DOUBTFUL, ctx, ["option_unknown"], raw=text)


def _text(text: str, base: float, ctx: _Context) -> Field:
    value = text.rstrip("。.;,")
    return _field(value, base, ctx, raw=text)


_CONVERTERS: dict[str, Callable[[str, float, _Context], Field]] = {
    "text": _text, "multiline": _text, "uscc": _uscc, "id_number": _id_number, "date": _date,
    "date_or_long": _date_or_long, "amount": _amount, "gender": _gender, "phone": _phone,
    "email": _email, "code": _code,
}


def _convert(rule: FieldRule, text: str, base: float, ctx: _Context) -> dict[str, Field]:
    if rule.kind == "date_range":
        return _date_range(rule, text, base, ctx)
    if rule.kind == "option":
        return {rule.field: _option(text, base, ctx, rule.options)}
    return {rule.field: _CONVERTERS[rule.kind](text, base, ctx)}


def _date_range(rule: FieldRule, text: str, base: float, ctx: _Context) -> dict[str, Field]:
    start_key, end_key = rule.targets
    dates = find_dates(text)
    result: dict[str, Field] = {}
    if dates:
        result[start_key] = _field(dates[0].isoformat(), base, ctx, raw=text)
    if len(dates) >= 2:
        reasons = [] if dates[1] >= dates[0] else ["date_range"]
        confidence = base if not reasons else CONF_DOUBTFUL
        result[end_key] = _field(dates[1].isoformat(), confidence, ctx, reasons, raw=text)
    elif is_long_term(text):
        result[end_key] = _field(LONG_TERM, base, ctx, raw=text)
    if not result:
        result[start_key] = _field(text, CONF_DOUBTFUL, ctx, ["date_unparsed"], raw=text)
    return result


# --- finding values -----------------------------------------------------------------------------


def _pattern_value(rule: FieldRule, joined: str) -> str | None:
    for pattern in rule.patterns:
        m = pattern.search(joined)
        if m:
            value = _clean(m.group("value") if "value" in pattern.groupindex else m.group(0))
            if value:
                return value
    return None


_USCC_ANYWHERE = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])")
_ID_ANYWHERE = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9A-Z])")


def _anywhere(rule: FieldRule, joined: str, ctx: _Context) -> Field | None:
    """A valid code printed without (or with an unreadable) label."""
    if rule.kind == "uscc":
        hits = [c for c in _USCC_ANYWHERE.findall(joined.upper()) if uscc_is_valid(c)]
    elif rule.kind == "id_number":
        hits = [c for c in _ID_ANYWHERE.findall(joined.upper())
                if id_number_is_valid(c, today=ctx.today)]
    else:
        return None
    if len(set(hits)) != 1:
        return None
    return _field(hits[0], CONF_ANYWHERE, ctx, raw=hits[0])


def _read_rule(
    rule: FieldRule, segments: list[_Segment], joined: str, ctx: _Context
) -> dict[str, Field]:
    values = _labelled_values(rule, segments)
    if values:
        return _convert(rule, values[0], CONF_LABELLED, ctx)
    value = _pattern_value(rule, joined)
    if value:
        return _convert(rule, value, CONF_PATTERN, ctx)
    found = _anywhere(rule, joined, ctx)
    return {rule.field: found} if found else {}


def cross_check_id(result: dict[str, Field]) -> None:
    """The birth date and gender inside the ID number must agree with the printed ones."""
    number = result.get("id_number")
    if not number or not number.value or not id_number_is_valid(number.value):
        return
    checks = (("birth_date", id_birth_date(number.value).isoformat(), "id_birth_mismatch"),
              ("gender", id_gender(number.value), "id_gender_mismatch"))
    for key, expected, reason in checks:
        printed = result.get(key)
        if printed and printed.value and printed.value != expected:
            for k in (key, "id_number"):
                f = result[k]
                result[k] = replace(f, reasons=[*f.reasons, reason],
                                    confidence=min(f.confidence, CONF_DOUBTFUL))


def _apply_expiry(rules: tuple[FieldRule, ...], result: dict[str, Field], ctx: _Context) -> None:
    for rule in rules:
        if not rule.expiry:
            continue
        key = rule.outputs[-1]
        f = result.get(key)
        if f and f.value and not f.reasons:
            extra = expiry_reasons(f.value, today=ctx.today, warning_days=ctx.warning_days)
            if extra:
                result[key] = replace(f, reasons=[*f.reasons, *extra])


def _fill_missing(rules: tuple[FieldRule, ...], result: dict[str, Field], ctx: _Context) -> None:
    required = {key: False for rule in rules for key in rule.outputs}
    for rule in rules:
        for key in rule.outputs:
            required[key] = required[key] or rule.required
    for key, is_required in required.items():
        if key not in result:
            result[key] = _field(None, 0.0, ctx, ["missing"] if is_required else [])


def extract_fields(
    document_type: str,
    text: str,
    *,
    page: int = 1,
    side: str | None = None,
    today: date | None = None,
    warning_days: int = 30,
    rules: ExtractionRules | None = None,
) -> dict[str, Field]:
    """Read the fields of one document from its OCR text.

    Args:
        document_type: A taxonomy code (``business_license``, ``id_card``...). Types without
            rules (``other``) give an empty dict.
        text: OCR text of the page (or of the document's pages joined).
        page: The 1-based page number recorded on every field.
        side: For ``id_card``: ``"front"`` or ``"back"`` reads only that side's fields; None
            reads both (a photocopy with both sides on one page).
        today: Reference day for expiry and ID birth-date plausibility (default: today).
        warning_days: Window in which an end date counts as ``expiring``.
        rules: Extraction rules; defaults to the bundled config/understanding.toml.

    Returns:
        Field key -> :class:`Field`, one entry per configured field (missing ones have value
        None and, when required, the reason ``"missing"``).
    """
    rules = rules or load_extraction_rules()
    ctx = _Context(page=page, today=today or date.today(), warning_days=warning_days)
    type_rules = tuple(
        r for r in rules.fields.get(document_type, ())
        if side is None or r.side is None or r.side == side
    )
    if not type_rules:
        return {}
    lines = compact_lines(text)
    pattern, by_label = _label_index(type_rules, rules.stops.get(document_type, ()))
    segments = _segments(lines, pattern, by_label)
    joined = "\n".join(lines)
    result: dict[str, Field] = {}
    for rule in type_rules:
        for key, found in _read_rule(rule, segments, joined, ctx).items():
            if key not in result or result[key].value is None:
                result[key] = found
    cross_check_id(result)
    _apply_expiry(type_rules, result, ctx)
    _fill_missing(type_rules, result, ctx)
    order = [key for rule in type_rules for key in rule.outputs]
    return {key: result[key] for key in dict.fromkeys(order)}
