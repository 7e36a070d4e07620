"""Convert a value's text by its field kind (dates, amounts, codes with check digits...).

Doubts are review reasons on the field, never exceptions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from ingest.extraction_rules import FieldRule
from ingest.fields import (
    LONG_TERM,
    Field,
    correct_code,
    find_dates,
    format_amount,
    is_long_term,
    parse_amount,
    parse_date,
)
from models.validation import (
    USCC_CHARSET,
    ValidationError,
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
ID_ALPHABET = "0123456789X"


@dataclass(frozen=True)
class Context:
    """What every conversion needs: the page number and the reference day."""

    page: int
    today: date
    warning_days: int


def make_field(
    value: str | None,
    confidence: float,
    ctx: Context,
    reasons: list[str] | None = None,
    raw: str | None = None,
    unit: str | None = None,
) -> Field:
    return Field(value, round(confidence, 3), ctx.page, list(reasons or []), unit, raw)


def code_prefix(kind: str) -> str:
    """The prefix of a code kind's reasons: ``uscc_...``, ``id_...``."""
    return "uscc" if kind == "uscc" else "id"


def code_check(kind: str, ctx: Context) -> tuple[Callable[[str], bool], str]:
    """The validator and alphabet of a code kind (``uscc`` or ``id_number``)."""
    if kind == "uscc":
        return uscc_is_valid, USCC_CHARSET
    return (lambda v: id_number_is_valid(v, today=ctx.today)), ID_ALPHABET


def _code_token(text: str) -> str:
    runs = re.findall(r"[0-9A-Za-z]+", text)
    token = next((r for r in runs if len(r) >= 15), runs[0] if runs else "")
    return token[:18].upper()


def _checked_code(
    text: str, base: float, ctx: Context, *, kind: str, validate: Callable[[str], str]
) -> Field:
    token = _code_token(text)
    try:
        return make_field(validate(token), min(base + 0.08, 0.98), ctx, raw=text)
    except ValidationError as e:
        reason = e.reason
    is_valid, alphabet = code_check(kind, ctx)
    corrected, changed = correct_code(token, is_valid, alphabet=alphabet)
    if corrected and changed:
        return make_field(
            corrected, CONF_CORRECTED, ctx, [f"{code_prefix(kind)}_corrected"], raw=text
        )
    return make_field(token or None, CONF_INVALID, ctx, [reason], raw=text)


def _uscc(text: str, base: float, ctx: Context) -> Field:
    return _checked_code(text, base, ctx, kind="uscc", validate=validate_uscc)


def _id_number(text: str, base: float, ctx: Context) -> Field:
    def validate(v: str) -> str:
        return validate_id_number(v, today=ctx.today)

    return _checked_code(text, base, ctx, kind="id_number", validate=validate)


def _date(text: str, base: float, ctx: Context) -> Field:
    d = parse_date(text)
    if d is None:
        return make_field(text, CONF_DOUBTFUL, ctx, ["date_unparsed"], raw=text)
    return make_field(d.isoformat(), base, ctx, raw=text)


def _date_or_long(text: str, base: float, ctx: Context) -> Field:
    if is_long_term(text) and parse_date(text) is None:
        return make_field(LONG_TERM, base, ctx, raw=text)
    return _date(text, base, ctx)


def _amount(text: str, base: float, ctx: Context) -> Field:
    parsed = parse_amount(text)
    if parsed is None:
        return make_field(text, CONF_DOUBTFUL, ctx, ["amount_unparsed"], raw=text)
    number, unit = parsed
    return make_field(format_amount(number), base, ctx, raw=text, unit=unit)


def _gender(text: str, base: float, ctx: Context) -> Field:
    m = re.search("[男女]", text)
    if not m:
        return make_field(text, CONF_DOUBTFUL, ctx, ["gender_unparsed"], raw=text)
    return make_field(m.group(0), base, ctx, raw=text)


_PHONE_LIKE = re.compile(r"(?:\+?86)?[(]?0?\d[\d\-()]{5,16}\d(?:转\d{1,6})?")


def _phone(text: str, base: float, ctx: Context) -> Field:
    m = _PHONE_LIKE.search(text)
    try:
        return make_field(validate_phone(m.group(0) if m else text), base, ctx, raw=text)
    except ValidationError:
        return make_field(text, CONF_DOUBTFUL, ctx, ["phone_format"], raw=text)


_EMAIL_LIKE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


#: A 1 or 0 between two letters of an e-mail's domain is OCR's reading of l or o
#: (handwritten ``example`` read ``examp1e``); the local part may hold any digits.
_DOMAIN_CONFUSIONS = re.compile(r"(?<=[A-Za-z])[01](?=[A-Za-z])")


def _email(text: str, base: float, ctx: Context) -> Field:
    m = _EMAIL_LIKE.search(text.replace("。", "."))
    try:
        value = validate_email(m.group(0) if m else text)
    except ValidationError:
        return make_field(text, CONF_DOUBTFUL, ctx, ["email_format"], raw=text)
    local, _, domain = value.rpartition("@")
    fixed = _DOMAIN_CONFUSIONS.sub(lambda c: "l" if c.group(0) == "1" else "o", domain)
    if fixed == domain:
        return make_field(value, base, ctx, raw=text)
    # Corrected, and said so: the reviewer compares it with the page.
    return make_field(f"{local}@{fixed}", CONF_DOUBTFUL, ctx, ["ocr_confusable"], raw=text)


def _code(text: str, base: float, ctx: Context) -> Field:
    m = re.search(r"[0-9A-Za-z][0-9A-Za-z\-]*", text)
    if not m:
        return make_field(text, CONF_DOUBTFUL, ctx, ["code_unparsed"], raw=text)
    return make_field(m.group(0).strip("-"), base, ctx, raw=text)


_CHECKED = re.compile(r"[☑✓√✔■●☒]\s*")
# An empty box before an option: □, ☐, or the 口 OCR reads from it.
_EMPTY_BOX = "□☐口"


def _option(text: str, base: float, ctx: Context, options: tuple[str, ...]) -> Field:
    checked = _CHECKED.split(text, maxsplit=1)
    found = [o for o in options if len(checked) == 2 and checked[1].startswith(o)]
    found = found or [o for o in options if o in text]
    if len(found) == 1:
        return make_field(found[0], base, ctx, raw=text)
    # The ticked box read as nothing: the one option left without an empty box before it.
    left = [o for o in found if not any(f"{box}{o}" in text for box in _EMPTY_BOX)]
    if len(left) == 1:
        return make_field(left[0], CONF_PATTERN, ctx, raw=text)
    return make_field(text, CONF_DOUBTFUL, ctx, ["option_unknown"], raw=text)


#: A speck OCR read as a full stop beside a Chinese one (``货物进出口。.(依法…``).
_SPECK_STOP = re.compile(r"(?<=。)\.+|\.+(?=。)")


def _text(text: str, base: float, ctx: Context) -> Field:
    value = _SPECK_STOP.sub("", text).rstrip("。.;,")
    return make_field(value, base, ctx, raw=text)


_CONVERTERS: dict[str, Callable[[str, float, Context], Field]] = {
    "text": _text,
    "multiline": _text,
    "uscc": _uscc,
    "id_number": _id_number,
    "date": _date,
    "date_or_long": _date_or_long,
    "amount": _amount,
    "gender": _gender,
    "phone": _phone,
    "email": _email,
    "code": _code,
}


def convert(rule: FieldRule, text: str, base: float, ctx: Context) -> dict[str, Field]:
    """The field(s) a rule fills from one value text (a date range fills two)."""
    if rule.kind == "date_range":
        return _date_range(rule, text, base, ctx)
    if rule.kind == "option":
        return {rule.field: _option(text, base, ctx, rule.options)}
    return {rule.field: _CONVERTERS[rule.kind](text, base, ctx)}


def _date_range(rule: FieldRule, text: str, base: float, ctx: Context) -> dict[str, Field]:
    start_key, end_key = rule.targets
    dates = find_dates(text)
    result: dict[str, Field] = {}
    if dates:
        result[start_key] = make_field(dates[0].isoformat(), base, ctx, raw=text)
    if len(dates) >= 2:
        reasons = [] if dates[1] >= dates[0] else ["date_range"]
        confidence = base if not reasons else CONF_DOUBTFUL
        result[end_key] = make_field(dates[1].isoformat(), confidence, ctx, reasons, raw=text)
    elif is_long_term(text):
        result[end_key] = make_field(LONG_TERM, base, ctx, raw=text)
    if not result:
        result[start_key] = make_field(text, CONF_DOUBTFUL, ctx, ["date_unparsed"], raw=text)
    return result
