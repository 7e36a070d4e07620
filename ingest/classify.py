"""Classify OCR text into a document type with rules kept as data (config/understanding.toml).

Each rule adds its weight once when its pattern is found; the best-scoring type wins only when
it clears a minimum score and a margin over the runner-up. Anything else is ``other``: an
unknown document goes to review, it is never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from config.errors import ConfigurationError
from ingest.fields import compact_lines, load_understanding

OTHER = "other"
ID_CARD = "id_card"
_TypeSide = tuple[str, str | None]


@dataclass(frozen=True)
class Rule:
    """One scoring rule: ``pattern`` found in the text adds ``weight`` to ``document_type``."""

    document_type: str
    pattern: re.Pattern[str]
    weight: float
    head_only: bool = False
    side: str | None = None

    @property
    def name(self) -> str:
        where = "head:" if self.head_only else ""
        side = f"{self.side}:" if self.side else ""
        return f"{side}{where}{self.pattern.pattern}"


@dataclass(frozen=True)
class ClassificationRules:
    """Rules and thresholds; build with :func:`load_classification_rules`."""

    rules: tuple[Rule, ...]
    min_score: float = 4.0
    min_margin: float = 1.5
    saturation: float = 8.0
    head_lines: int = 4
    side_min_score: float = 2.5
    continuation_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Classification:
    """What a page is.

    Attributes:
        document_type: A taxonomy code (``business_license``... or ``other``).
        confidence: 0..1.
        side: For ``id_card``: ``"front"``, ``"back"``, or None when both sides are on the page.
        matched: Names of the rules that matched for the chosen type (``"continuation"`` for a
            page taken as the continuation of the previous document).
    """

    document_type: str
    confidence: float
    side: str | None = None
    matched: list[str] = field(default_factory=list)


def _rule(raw: Mapping[str, object], source: str) -> Rule:
    try:
        return Rule(
            document_type=str(raw["type"]),
            pattern=re.compile(str(raw["pattern"]), re.MULTILINE | re.IGNORECASE),
            weight=float(raw.get("weight", 1.0)),  # type: ignore[arg-type]
            head_only=raw.get("where", "any") == "head",
            side=str(raw["side"]) if raw.get("side") else None,
        )
    except (KeyError, TypeError, ValueError, re.error) as e:
        raise ConfigurationError(f"{source}: invalid classification rule {raw!r}: {e}") from e


def load_classification_rules(path: Path | None = None) -> ClassificationRules:
    """Build the classification rules from an understanding TOML file (default: the bundled one).

    Raises:
        ConfigurationError: When a rule or threshold is malformed.
    """
    data = load_understanding(path)
    section = data.get("classify", {})
    source = str(path or "config/understanding.toml")
    try:
        return ClassificationRules(
            rules=tuple(_rule(r, source) for r in section.get("rules", [])),
            min_score=float(section.get("min_score", 4.0)),
            min_margin=float(section.get("min_margin", 1.5)),
            saturation=float(section.get("saturation", 8.0)),
            head_lines=int(section.get("head_lines", 4)),
            side_min_score=float(section.get("side_min_score", 2.5)),
            continuation_types=tuple(section.get("continuation_types", ())),
        )
    except (TypeError, ValueError) as e:
        raise ConfigurationError(f"{source}: invalid [classify] thresholds: {e}") from e


def _score(lines: list[str], rules: ClassificationRules) -> dict[_TypeSide, list[Rule]]:
    """Matched rules per (type, side)."""
    body = "\n".join(lines)
    head = "\n".join(lines[: rules.head_lines])
    matched: dict[_TypeSide, list[Rule]] = {}
    for rule in rules.rules:
        if rule.pattern.search(head if rule.head_only else body):
            matched.setdefault((rule.document_type, rule.side), []).append(rule)
    return matched


def _id_side(front: float, back: float, side_min: float) -> str | None:
    if front >= side_min and back >= side_min:
        return None
    return "front" if front >= back else "back"


def classify(text: str, *, rules: ClassificationRules | None = None) -> Classification:
    """Classify one page (or one document) of OCR text.

    Args:
        text: OCR text; spaces between characters and full-width punctuation are fine.
        rules: Rules to use; defaults to the bundled config/understanding.toml.

    Returns:
        The best type, or ``other`` with confidence 0 when no type scores at least
        ``min_score`` or the best two are closer than ``min_margin``.
    """
    rules = rules or load_classification_rules()
    matched = _score(compact_lines(text), rules)
    totals: dict[str, float] = {}
    for (doc_type, _side), hits in matched.items():
        totals[doc_type] = totals.get(doc_type, 0.0) + sum(r.weight for r in hits)
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
    if not ranked or ranked[0][1] < rules.min_score:
        return Classification(OTHER, 0.0)
    best_type, best = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best - runner_up < rules.min_margin:
        return Classification(OTHER, 0.0)
    hits = [r for (t, _s), rs in matched.items() if t == best_type for r in rs]
    side = None
    if best_type == ID_CARD:
        front = sum(r.weight for r in matched.get((ID_CARD, "front"), []))
        back = sum(r.weight for r in matched.get((ID_CARD, "back"), []))
        side = _id_side(front, back, rules.side_min_score)
    confidence = round(min(1.0, best / rules.saturation), 3)
    return Classification(best_type, confidence, side, [r.name for r in hits])


def classify_pages(
    page_texts: Sequence[str], *, rules: ClassificationRules | None = None
) -> list[Classification]:
    """Classify each page of a bundle, so it can be split into one document per type.

    An ``other`` page directly after a page of a ``continuation_types`` type (a contract's
    second page) is taken as that document's continuation, with half the confidence and
    ``matched == ["continuation"]``. Blank pages stay ``other``.
    """
    rules = rules or load_classification_rules()
    result: list[Classification] = []
    for text in page_texts:
        c = classify(text, rules=rules)
        previous = result[-1] if result else None
        if (
            c.document_type == OTHER
            and previous is not None
            and previous.document_type in rules.continuation_types
            and compact_lines(text)
        ):
            c = Classification(
                previous.document_type, round(previous.confidence / 2, 3), None, ["continuation"]
            )
        result.append(c)
    return result


@dataclass(frozen=True)
class PageGroup:
    """Consecutive pages forming one document of a bundle (pages are 1-based)."""

    document_type: str
    pages: list[int]
    confidence: float
    side: str | None = None


def group_pages(classifications: Sequence[Classification]) -> list[PageGroup]:
    """Split a classified bundle into documents.

    A new document starts at every change of type and at every page that is not a
    continuation of a multi-page type; the two sides of an ID card on consecutive pages
    (front then back, or back then front) form one document. ``other`` pages each stand alone.
    """
    groups: list[PageGroup] = []
    for page, c in enumerate(classifications, start=1):
        last = groups[-1] if groups else None
        if last is not None and _continues(last, c):
            groups[-1] = PageGroup(
                last.document_type,
                [*last.pages, page],
                min(last.confidence, c.confidence) if c.matched != ["continuation"]
                else last.confidence,
                None if last.document_type == ID_CARD else last.side,
            )
        else:
            groups.append(PageGroup(c.document_type, [page], c.confidence, c.side))
    return groups


def _continues(group: PageGroup, c: Classification) -> bool:
    if c.document_type != group.document_type or c.document_type == OTHER:
        return False
    if c.matched == ["continuation"]:
        return True
    if c.document_type == ID_CARD:
        sides = {group.side, c.side}
        return len(group.pages) == 1 and sides == {"front", "back"}
    return False
