"""Extraction rules as data: what fields each document type has and how to find them.

Loaded from config/understanding.toml (``[[extract.<type>]]`` entries and ``[extract_stops]``);
a malformed entry is a :class:`~config.errors.ConfigurationError` naming the file and the type.
:mod:`ingest.extract` applies them to a page's text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.errors import ConfigurationError
from ingest.fields import load_understanding

KINDS = (
    "text",
    "multiline",
    "uscc",
    "id_number",
    "date",
    "date_or_long",
    "date_range",
    "amount",
    "gender",
    "phone",
    "email",
    "code",
    "option",
)


@dataclass(frozen=True)
class FieldRule:
    """How to find and read one field (one ``[[extract.<type>]]`` entry)."""

    field: str
    label: str
    labels: tuple[str, ...]
    kind: str = "text"
    position: str = "auto"
    patterns: tuple[re.Pattern[str], ...] = ()
    value_regex: re.Pattern[str] | None = None
    targets: tuple[str, ...] = ()
    expiry: bool = False
    required: bool = True
    side: str | None = None
    options: tuple[str, ...] = ()
    max_lines: int = 3
    dates_allowed: bool = False

    @property
    def outputs(self) -> tuple[str, ...]:
        """The result fields this rule fills."""
        return self.targets if self.kind == "date_range" else (self.field,)


@dataclass(frozen=True)
class ExtractionRules:
    """Field rules and stop labels per document type; build with :func:`load_extraction_rules`."""

    fields: Mapping[str, tuple[FieldRule, ...]]
    stops: Mapping[str, tuple[str, ...]]
    required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    printed_date: Mapping[str, str] = field(default_factory=dict)
    geometry_first: frozenset[str] = frozenset()  # types whose values go by page geometry


def _field_rule(raw: Mapping[str, object], where: str) -> FieldRule:
    try:
        kind = str(raw.get("kind", "text"))
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        value_regex = raw.get("value_regex")
        rule = FieldRule(
            field=str(raw["field"]),
            label=str(raw.get("label", raw["field"])),
            labels=tuple(str(x) for x in raw.get("labels", ())),  # type: ignore[attr-defined]
            kind=kind,
            position=str(raw.get("position", "auto")),
            patterns=tuple(re.compile(str(p)) for p in raw.get("patterns", ())),  # type: ignore[attr-defined]
            value_regex=re.compile(str(value_regex)) if value_regex else None,
            targets=tuple(str(x) for x in raw.get("targets", ())),  # type: ignore[attr-defined]
            expiry=bool(raw.get("expiry", False)),
            required=bool(raw.get("required", True)),
            side=str(raw["side"]) if raw.get("side") else None,
            options=tuple(str(x) for x in raw.get("options", ())),  # type: ignore[attr-defined]
            max_lines=int(raw.get("max_lines", 3)),  # type: ignore[call-overload]
            dates_allowed=bool(raw.get("dates_allowed", False)),
        )
    except (KeyError, TypeError, ValueError, re.error) as e:
        raise ConfigurationError(f"{where}: invalid field rule {raw!r}: {e}") from e
    if rule.kind == "date_range" and len(rule.targets) != 2:
        raise ConfigurationError(f"{where}: date_range {rule.field} needs two targets")
    if rule.position not in ("auto", "anywhere", "colon"):
        raise ConfigurationError(f"{where}: {rule.field}: unknown position {rule.position!r}")
    return rule


def load_extraction_rules(path: Path | None = None) -> ExtractionRules:
    """Build the extraction rules from an understanding TOML file (default: the bundled one).

    Raises:
        ConfigurationError: When an entry is malformed.
    """
    data = load_understanding(path)
    where = str(path or "config/understanding.toml")
    fields = {
        doc_type: tuple(_field_rule(raw, f"{where} [extract.{doc_type}]") for raw in entries)
        for doc_type, entries in data.get("extract", {}).items()
    }
    stops = {k: tuple(str(x) for x in v) for k, v in data.get("extract_stops", {}).items()}
    required = {k: tuple(str(x) for x in v) for k, v in data.get("extract_required", {}).items()}
    printed = {k: str(v) for k, v in data.get("extract_printed_date", {}).items()}
    _check_keys(fields, required, printed, where)
    first = frozenset(str(t) for t in data.get("extract_layout", {}).get("geometry_first", ()))
    return ExtractionRules(
        fields=fields, stops=stops, required=required, printed_date=printed, geometry_first=first
    )


def _check_keys(
    fields: Mapping[str, tuple[FieldRule, ...]],
    required: Mapping[str, tuple[str, ...]],
    printed: Mapping[str, str],
    where: str,
) -> None:
    """Required and printed-date fields must be fields their type extracts."""
    named = [(t, k, "extract_required") for t, keys in required.items() for k in keys]
    named += [(t, k, "extract_printed_date") for t, k in printed.items()]
    for doc_type, key, table in named:
        outputs = {o for rule in fields.get(doc_type, ()) for o in rule.outputs}
        if key not in outputs:
            raise ConfigurationError(f"{where} [{table}] {doc_type}: no field {key!r}")


def option_texts(*, rules: ExtractionRules | None = None) -> tuple[str, ...]:
    """Every option an ``option`` field may take, over all document types (their tick boxes
    are read from the page image before the page's type is known)."""
    rules = rules or load_extraction_rules()
    found = (o for rs in rules.fields.values() for r in rs if r.kind == "option" for o in r.options)
    return tuple(dict.fromkeys(found))


def field_labels(document_type: str, *, rules: ExtractionRules | None = None) -> dict[str, str]:
    """Chinese labels of the fields :func:`extract_fields` returns for ``document_type``."""
    rules = rules or load_extraction_rules()
    labels: dict[str, str] = {}
    for rule in rules.fields.get(document_type, ()):
        if rule.kind == "date_range":
            start, end = rule.targets
            labels[start] = f"{rule.label}(起)"
            labels[end] = f"{rule.label}(止)"
        else:
            labels.setdefault(rule.field, rule.label)
    from ingest.extract.parties import party_labels  # the parties' codes (a contract's 甲方/乙方)

    return {**labels, **party_labels(document_type)}
