"""Extracted fields as the document page shows them: Chinese labels, formatted values, doubts.

Labels and kinds come from one place, the extraction rules of config/understanding.toml
(``ingest.extraction_rules.field_labels``), so the page says 姓名 on an ID card and 名称 on a
business license; a field the rules do not know falls back to ``models.validation``'s labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from archive.document_customer import MISMATCH
from archive.linking import CUSTOMER_FIELDS_BY_TYPE
from config.taxonomy import Taxonomy
from ingest.extract.confidence import INFO_REASONS, LOW_CONFIDENCE, reading_doubts
from ingest.extraction_rules import field_labels, load_extraction_rules
from models.validation import FIELD_LABELS, mask_id_number
from web.formatting import money, unmoney, ymd

#: Informational reasons shown beside a field as notes (not doubts): a plainly right cut.
NOTE_REASONS = ("trimmed_date_clean", "trimmed_label_clean")
#: Labels of field-level doubt codes written by extraction (document-level ones are in the
#: taxonomy's ``[review_reasons]``).
FIELD_REASON_LABELS = {
    "missing": "未识别到",
    "low_confidence": "置信度低",
    "uscc_check_digit": "校验位错误",
    "uscc_corrected": "校验位经 OCR 纠错",
    "id_check_digit": "校验位错误",
    "uscc_format": "格式错误",
    "id_format": "格式错误",
    "id_birth_date": "出生日期无效",
    "id_birth_mismatch": "与出生日期不一致",
    "id_gender_mismatch": "与性别不一致",
    "date_unparsed": "日期无法识别",
    "date_range": "日期超出合理范围",
    "code_unparsed": "代码无法识别",
    "amount_unparsed": "金额无法识别",
    "gender_unparsed": "性别无法识别",
    "phone_format": "电话格式不正确",
    "email_format": "邮箱格式不正确",
    "option_unknown": "不在可选项中",
    "expired": "已过期",
    "expiring": "即将过期",
}

SENSITIVE_FIELDS = frozenset({"id_number"})
UNKNOWN_FIELD_LABEL = "其他字段"
DATE_KINDS = frozenset({"date", "date_or_long"})


@dataclass(frozen=True)
class FieldSpec:
    """What the page needs to know about one field: its label and its kind."""

    label: str
    kind: str = "text"
    known: bool = True


@cache
def _specs(document_type: str) -> dict[str, FieldSpec]:
    rules = load_extraction_rules()
    labels = field_labels(document_type, rules=rules)
    kinds: dict[str, str] = {}
    for rule in rules.fields.get(document_type, ()):
        if rule.kind == "date_range":
            start, end = rule.targets
            kinds.setdefault(start, "date")
            kinds.setdefault(end, "date_or_long")
        else:
            kinds.setdefault(rule.field, rule.kind)
    return {name: FieldSpec(label, kinds.get(name, "text")) for name, label in labels.items()}


@cache
def _any_type_specs() -> dict[str, FieldSpec]:
    """Every field any document type has, first type wins (for a field of another type)."""
    out: dict[str, FieldSpec] = {}
    for document_type in load_extraction_rules().fields:
        for name, spec in _specs(document_type).items():
            out.setdefault(name, spec)
    return out


def field_spec(document_type: str, name: str) -> FieldSpec:
    """The label and kind of field ``name`` on a document of ``document_type``."""
    spec = _specs(document_type).get(name) or _any_type_specs().get(name)
    if spec is not None:
        return spec
    if name in FIELD_LABELS:
        return FieldSpec(FIELD_LABELS[name])
    return FieldSpec(UNKNOWN_FIELD_LABEL, known=False)


def field_label(document_type: str | None, name: str) -> str:
    """The Chinese label of a field (for the audit page and the like)."""
    return field_spec(document_type or "", name).label


def reason_label(taxonomy: Taxonomy, code: str) -> str:
    """A Chinese label for a document-level or field-level reason code."""
    label = taxonomy.review_reasons.get(code)
    return label or FIELD_REASON_LABELS.get(code, code)


def display_value(spec: FieldSpec, info: Mapping[str, Any]) -> str:
    """A field's value as the page shows it (amounts as money, dates as YYYY-MM-DD)."""
    value = info.get("value")
    if value is None:
        return ""
    if spec.kind == "amount":
        return money(value, info.get("unit") or None)
    if spec.kind in DATE_KINDS:
        return ymd(value)
    return str(value)


def stored_value(spec: FieldSpec, typed: str) -> str:
    """What to store for a value typed on the page (a shown amount loses its formatting)."""
    return unmoney(typed) if spec.kind == "amount" else typed


def _field_reasons(raw: Mapping[str, Any], *, differs: bool = False) -> list[str]:
    """A field's doubts as codes: its reasons (informational ones left out), a low confidence,
    a difference from the customer's record. A value a person corrected carries none."""
    if raw.get("corrected_by"):
        return []
    reasons = [r for r in raw.get("reasons") or [] if r not in INFO_REASONS]
    if raw.get("reason"):
        reasons.append(str(raw["reason"]))
    confidence = raw.get("confidence")
    has_value = raw.get("value") not in (None, "")
    low = isinstance(confidence, int | float) and confidence < LOW_CONFIDENCE
    if has_value and low and not reading_doubts(reasons):  # else the doubts say why
        reasons.append("low_confidence")
    if differs:
        reasons.append(MISMATCH)
    return list(dict.fromkeys(reasons))


def differing_fields(fields: Mapping[str, Any], document_type: str) -> set[str]:
    """The fields whose value differs from the linked customer's record (``_differences``,
    written by ``archive.document_customer`` with the customer's column names)."""
    source_of = {column: src for src, column in CUSTOMER_FIELDS_BY_TYPE.get(document_type, ())}
    found = fields.get("_differences")
    if not isinstance(found, list):
        return set()
    return {
        source_of.get(str(d.get("field")), str(d.get("field")))
        for d in found
        if isinstance(d, Mapping)
    }


def field_rows(
    fields: Mapping[str, Any], *, document_type: str, taxonomy: Taxonomy, unmask: bool
) -> list[dict[str, Any]]:
    """Extracted fields as rows for the document page, doubtful ones flagged with labels.

    Bookkeeping keys (``_...``) are skipped; ID numbers are masked unless ``unmask``.
    """
    rows = []
    differs = differing_fields(fields, document_type)
    for name, raw in fields.items():
        if name.startswith("_"):
            continue
        info = raw if isinstance(raw, Mapping) else {"value": raw}
        spec = field_spec(document_type, name)
        value = display_value(spec, info)
        if name in SENSITIVE_FIELDS and value and not unmask:
            value = mask_id_number(value)
        reasons = _field_reasons(info, differs=name in differs)
        notes = [r for r in info.get("reasons") or [] if r in NOTE_REASONS]
        rows.append(
            {
                "name": name,
                "label": spec.label,
                "known": spec.known,
                "kind": spec.kind,
                "value": value,
                "confidence": info.get("confidence"),
                "doubtful": bool(reasons),
                "reasons": [reason_label(taxonomy, r) for r in reasons],
                "reason_codes": reasons,
                "notes": [reason_label(taxonomy, r) for r in notes],
            }
        )
    return rows
