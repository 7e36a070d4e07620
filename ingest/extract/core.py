"""Read the fields of one document from its page text: labels first, then patterns, then
validity anywhere on the page (codes, phones); values cut at their neighbours; required
fields checked per document type."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date

from ingest.extract.bounds import TRIMMED_KINDS, TRIMMED_LAYOUT, trim
from ingest.extract.codes import (
    CODE_KINDS,
    label_lines,
    page_candidates,
    page_phone,
    resolve_code,
)
from ingest.extract.convert import (
    CONF_ANYWHERE,
    CONF_DOUBTFUL,
    CONF_LABELLED,
    CONF_PATTERN,
    Context,
    code_check,
    convert,
    make_field,
)
from ingest.extract.geometry import Box, Cell, PageLayout, cells_of, placed_values, within_boxes
from ingest.extract.parties import read_parties
from ingest.extract.segments import (
    TYPED_START,
    Segment,
    clean,
    is_empty_cell,
    label_index,
    segment_value,
    split_segments,
)
from ingest.extraction_rules import ExtractionRules, FieldRule, load_extraction_rules
from ingest.fields import Field, compact_lines, expiry_reasons, parse_date
from models.validation import id_birth_date, id_gender, id_number_is_valid


@dataclass
class _Page:
    lines: list[str]
    segments: list[Segment]
    labels: tuple[str, ...]  # every label and stop of the document type
    ctx: Context
    cut_dates: list[str] = field(default_factory=list)  # dates cut off other values
    boxes: tuple[Box, ...] = ()  # the page's OCR boxes (empty: text only)
    cells: list[Cell] = field(default_factory=list)  # the page's boxes split at labels
    ticked: dict[str, bool] = field(default_factory=dict)  # option -> its box is ticked
    geometry_first: bool = False  # a form: a value placed beside its label beats text order

    @property
    def joined(self) -> str:
        return "\n".join(self.lines)


def _accept(rule: FieldRule, text: str, page: _Page) -> tuple[str, tuple[str, ...]] | None:
    """A value text after its cuts, with their reasons; None when nothing fit is left."""
    trimmed = trim(rule, text, page.labels)
    value = trimmed.value
    if not value or is_empty_cell(rule, value):
        return None
    if rule.value_regex is not None and not rule.value_regex.fullmatch(value):
        return None
    if trimmed.date:
        page.cut_dates.append(trimmed.date)
    return value, trimmed.reasons


def _labelled_values(rule: FieldRule, page: _Page) -> list[tuple[str, tuple[str, ...]]]:
    """The rule's values after its labels in reading order, each with the reasons of its cuts."""
    out = []
    for segment in page.segments:
        if segment.rule is not rule:
            continue
        value, cut = _in_place(rule, segment, page.boxes)
        accepted = _accept(rule, value, page)
        if accepted is not None:
            out.append((accepted[0], (*cut, *accepted[1])))
    return out


def _in_place(rule: FieldRule, segment: Segment, boxes: tuple[Box, ...]) -> tuple[str, tuple]:
    """A segment's value, kept to where the page prints it when the boxes are known
    (:func:`within_boxes`: not into the next column's cell, not onto a line that is not under
    it); a cut gives the reason ``trimmed_layout``."""
    value = segment_value(rule, segment)
    if not value or not boxes or rule.kind not in TRIMMED_KINDS:
        return value, ()
    if rule.kind == "multiline":
        start = next(i for i, p in enumerate(segment.pieces) if clean(p))
        lines = segment.pieces[start : start + rule.max_lines]
    else:
        lines = [value]
    kept, cut = within_boxes(lines, boxes)
    return (clean("".join(kept)), (TRIMMED_LAYOUT,)) if cut else (value, ())


def _placed_values(rule: FieldRule, page: _Page) -> list[tuple[str, tuple[str, ...]]]:
    """The rule's values beside or under their labels on the page (:mod:`.geometry`)."""
    typed = TYPED_START.get(rule.kind)
    out = []
    for text in placed_values(rule, page.cells):
        value = clean(text, symbols=rule.kind != "option")
        if typed is not None and not typed.match(value):
            continue
        accepted = _accept(rule, value, page)
        if accepted is not None:
            out.append(accepted)
    return out


def _values(rule: FieldRule, page: _Page) -> list[tuple[str, tuple[str, ...]]]:
    """Labelled values: from the text order, or by geometry when the text has none (on a
    form, geometry first: its cells say which value is whose)."""
    if page.geometry_first:
        return _placed_values(rule, page) or _labelled_values(rule, page)
    return _labelled_values(rule, page) or _placed_values(rule, page)


def _pattern_value(rule: FieldRule, joined: str) -> str | None:
    for pattern in rule.patterns:
        m = pattern.search(joined)
        if m:
            value = clean(m.group("value") if "value" in pattern.groupindex else m.group(0))
            if value:
                return value
    return None


def _with_reasons(found: dict[str, Field], key: str, reasons: tuple[str, ...]) -> None:
    if reasons and key in found:
        f = found[key]
        found[key] = replace(f, reasons=[*f.reasons, *reasons])


def _read_code(rule: FieldRule, page: _Page) -> dict[str, Field]:
    values = _values(rule, page)
    labelled = None
    if values:
        labelled = convert(rule, values[0][0], CONF_LABELLED, page.ctx)[rule.field]
    elif (value := _pattern_value(rule, page.joined)) is not None:
        labelled = convert(rule, value, CONF_PATTERN, page.ctx)[rule.field]
    candidates = page_candidates(rule.kind, page.lines, page.ctx)
    found = resolve_code(rule, labelled, candidates, label_lines(rule, page.lines), page.ctx)
    return {rule.field: found} if found else {}


def _read_option(rule: FieldRule, page: _Page) -> dict[str, Field] | None:
    """An option decided by its tick boxes on the image: the one ticked option; no value when
    every option's box is empty; None (read the text) when no box is ticked and not every
    option's box was found."""
    seen = [o for o in rule.options if o in page.ticked]
    if not seen:
        return None
    ticked = [o for o in seen if page.ticked[o]]
    if len(ticked) == 1:
        return {rule.field: make_field(ticked[0], CONF_LABELLED, page.ctx, raw=ticked[0])}
    if not ticked:  # every box empty: nothing chosen; some boxes not found: ask the text
        return {} if len(seen) == len(rule.options) else None
    text = " ".join(ticked)
    return {rule.field: make_field(text, CONF_DOUBTFUL, page.ctx, ["option_unknown"], raw=text)}


def _read_rule(rule: FieldRule, page: _Page) -> dict[str, Field]:
    if rule.kind in CODE_KINDS:
        return _read_code(rule, page)
    if rule.kind == "option" and (ticked := _read_option(rule, page)) is not None:
        return ticked
    values = _values(rule, page)
    if values:
        value, reasons = values[0]
        found = convert(rule, value, CONF_LABELLED, page.ctx)
        _with_reasons(found, rule.field, reasons)
        return found
    value = _pattern_value(rule, page.joined)
    if value:
        return convert(rule, value, CONF_PATTERN, page.ctx)
    if rule.kind == "phone" and (phone := page_phone(page.joined, page.ctx)):
        return {rule.field: phone}
    return {}


def cross_check_id(result: dict[str, Field], keys: Collection[str] = ()) -> None:
    """The birth date and gender inside the ID number must agree with the printed ones; one of
    ``keys`` (the fields the document type has) that OCR did not read is taken from the number
    (``from_id_number``, a note)."""
    number = result.get("id_number")
    if not number or not number.value or not id_number_is_valid(number.value):
        return
    checks = (
        ("birth_date", id_birth_date(number.value).isoformat(), "id_birth_mismatch"),
        ("gender", id_gender(number.value), "id_gender_mismatch"),
    )
    for key, expected, reason in checks:
        printed = result.get(key)
        if key in keys and (printed is None or printed.value is None):
            result[key] = Field(expected, number.confidence, page=number.page,
                                reasons=["from_id_number"])
        elif printed and printed.value and printed.value != expected:
            for k in (key, "id_number"):
                f = result[k]
                result[k] = replace(
                    f, reasons=[*f.reasons, reason], confidence=min(f.confidence, CONF_DOUBTFUL)
                )


def _apply_expiry(rules: tuple[FieldRule, ...], result: dict[str, Field], ctx: Context) -> None:
    for rule in rules:
        if not rule.expiry:
            continue
        key = rule.outputs[-1]
        f = result.get(key)
        if f and f.value and not f.reasons:
            extra = expiry_reasons(f.value, today=ctx.today, warning_days=ctx.warning_days)
            if extra:
                result[key] = replace(f, reasons=[*f.reasons, *extra])


def _fill_printed_date(key: str | None, result: dict[str, Field], page: _Page) -> None:
    """A date cut off another value (the issue date glued to the address) is the type's
    printed date when nothing else gave one."""
    if key is None or (key in result and result[key].value is not None) or not page.cut_dates:
        return
    d = parse_date(page.cut_dates[-1])
    if d is not None:
        result[key] = make_field(d.isoformat(), CONF_ANYWHERE, page.ctx, raw=page.cut_dates[-1])


def _fill_missing(rules: tuple[FieldRule, ...], result: dict[str, Field], ctx: Context) -> None:
    required = {key: False for rule in rules for key in rule.outputs}
    for rule in rules:
        for key in rule.outputs:
            required[key] = required[key] or rule.required
    for key, is_required in required.items():
        if key not in result:
            result[key] = make_field(None, 0.0, ctx, ["missing"] if is_required else [])


def _require(
    keys: tuple[str, ...], rules: tuple[FieldRule, ...], result: dict[str, Field], ctx: Context
) -> None:
    """A field the document type cannot do without is ``missing`` when it has no value, or
    (a code) no valid one, whatever other reasons it carries."""
    kinds = {key: rule.kind for rule in rules for key in rule.outputs}
    for key in keys:
        f = result.get(key)
        if f is None or "missing" in f.reasons:
            continue
        absent = f.value is None or not str(f.value).strip()
        if kinds.get(key) in CODE_KINDS and not absent:
            absent = not code_check(kinds[key], ctx)[0](str(f.value))
        if absent:
            result[key] = replace(f, reasons=[*f.reasons, "missing"])


def _page(
    document_type: str,
    lines: list[str],
    type_rules: tuple[FieldRule, ...],
    rules: ExtractionRules,
    ctx: Context,
    layout: PageLayout | None,
) -> _Page:
    """The page split at its labels: the text lines, and the layout's boxes when given."""
    pattern, by_label = label_index(type_rules, rules.stops.get(document_type, ()))
    page = _Page(lines, split_segments(lines, pattern, by_label), tuple(by_label), ctx)
    if layout is not None:
        page.boxes = layout.boxes
        page.cells = cells_of(layout.boxes, pattern, by_label)
        page.ticked = dict(layout.ticked())
        page.geometry_first = document_type in rules.geometry_first
    return page


def extract_fields(
    document_type: str,
    text: str,
    *,
    page: int = 1,
    side: str | None = None,
    today: date | None = None,
    warning_days: int = 30,
    rules: ExtractionRules | None = None,
    layout: PageLayout | None = None,
) -> dict[str, Field]:
    """Read the fields of one document from its OCR text (and, given, the page's layout).

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
        layout: The OCR boxes and tick boxes of the page (:class:`PageLayout`): values placed
            beside or under their labels, and options decided by their ticked box.

    Returns:
        Field key -> :class:`Field`, one entry per configured field (missing ones have value
        None and, when required, the reason ``"missing"``).
    """
    rules = rules or load_extraction_rules()
    ctx = Context(page=page, today=today or date.today(), warning_days=warning_days)
    type_rules = tuple(
        r
        for r in rules.fields.get(document_type, ())
        if side is None or r.side is None or r.side == side
    )
    if not type_rules:
        return {}
    lines = compact_lines(text)
    page_text = _page(document_type, lines, type_rules, rules, ctx, layout)
    result: dict[str, Field] = {}
    for rule in type_rules:
        for key, found in _read_rule(rule, page_text).items():
            if key not in result or result[key].value is None:
                result[key] = found
    cross_check_id(result, keys={key for rule in type_rules for key in rule.outputs})
    _apply_expiry(type_rules, result, ctx)
    _fill_printed_date(rules.printed_date.get(document_type), result, page_text)
    _fill_missing(type_rules, result, ctx)
    _require(rules.required.get(document_type, ()), type_rules, result, ctx)
    order = [key for rule in type_rules for key in rule.outputs]
    ordered = {key: result[key] for key in dict.fromkeys(order)}
    ordered.update(read_parties(document_type, lines, ctx) if side is None else {})
    return ordered
