"""The parties of a contract (甲方/乙方) and the USCC printed in each party's block.

The rules are data (``[extract_parties.<type>]`` in config/understanding.toml): each party has
labels; a *block* starts at a line that begins with one of them followed by a colon (``甲方:``,
``甲方(盖章):``, not a clause such as ``甲方应在…``) and runs to the next party's line (at most
``max_lines`` lines). A line naming two parties (signatures side by side) belongs to neither.
A USCC that passes its check digit inside a party's blocks is that party's (``party_a_uscc``);
two different ones are a doubt (``uscc_candidates_mismatch``), one that validates only after
OCR-confusion repair is ``uscc_corrected`` (the linker never trusts either). The company names
themselves are ordinary fields (``party_a``/``party_b``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from config.errors import ConfigurationError
from ingest.extract.codes import page_candidates
from ingest.extract.convert import (
    CONF_CORRECTED,
    CONF_DOUBTFUL,
    CONF_LABELLED,
    Context,
    make_field,
)
from ingest.fields import Field, load_understanding


@dataclass(frozen=True)
class PartyRule:
    field: str  # output field, e.g. party_a_uscc
    label: str  # Chinese label of the output field
    start: re.Pattern[str]  # a line that opens this party's block


@dataclass(frozen=True)
class PartyRules:
    parties: tuple[PartyRule, ...]
    max_lines: int


def _start(labels: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(str(label)) for label in labels)
    return re.compile(rf"(?:{alternatives})(?:\([^)]{{0,10}}\))?:")


@cache
def party_rules() -> Mapping[str, PartyRules]:
    """``[extract_parties.<type>]`` of the bundled understanding rules, per document type.

    Raises:
        ConfigurationError: An entry without a field or labels.
    """
    out: dict[str, PartyRules] = {}
    for doc_type, raw in load_understanding().get("extract_parties", {}).items():
        parties = []
        for entry in raw.get("party", ()):
            if not entry.get("field") or not entry.get("labels"):
                raise ConfigurationError(
                    f"config/understanding.toml [extract_parties.{doc_type}]: "
                    "每个当事方须有 field 与 labels"
                )
            parties.append(
                PartyRule(
                    str(entry["field"]),
                    str(entry.get("label", entry["field"])),
                    _start(entry["labels"]),
                )
            )
        out[doc_type] = PartyRules(tuple(parties), int(raw.get("max_lines", 6)))
    return out


def party_labels(document_type: str) -> dict[str, str]:
    """Chinese labels of the party fields of ``document_type``."""
    rules = party_rules().get(document_type)
    return {p.field: p.label for p in rules.parties} if rules else {}


def _owner(rules: PartyRules, line: str) -> str | None:
    """The party whose block ``line`` opens; "" for a line naming several parties (signature
    blocks side by side: a boundary that belongs to nobody); None for any other line."""
    if not any(p.start.match(line) for p in rules.parties):
        return None
    named = [p.field for p in rules.parties if p.start.search(line)]
    return named[0] if len(named) == 1 else ""


def _blocks(rules: PartyRules, lines: Sequence[str]) -> dict[str, list[str]]:
    """Each party's lines: from its opening line to the next party's (or ``max_lines``)."""
    starts = [(i, key) for i, line in enumerate(lines) if (key := _owner(rules, line)) is not None]
    blocks: dict[str, list[str]] = {p.field: [] for p in rules.parties}
    for n, (i, key) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        if key:
            blocks[key].extend(lines[i : min(end, i + rules.max_lines)])
    return blocks


def _party_code(block: Sequence[str], ctx: Context) -> Field:
    candidates = page_candidates("uscc", block, ctx)
    direct = list(dict.fromkeys(c.code for c in candidates if not c.corrected))
    if len(direct) == 1:
        return make_field(direct[0], CONF_LABELLED, ctx, raw=direct[0])
    if direct:
        return make_field(
            direct[0], CONF_DOUBTFUL, ctx, ["uscc_candidates_mismatch"], raw=direct[0]
        )
    repaired = list(dict.fromkeys(c.code for c in candidates))
    if len(repaired) == 1:
        return make_field(repaired[0], CONF_CORRECTED, ctx, ["uscc_corrected"], raw=repaired[0])
    return make_field(None, 0.0, ctx)


def read_parties(document_type: str, lines: Sequence[str], ctx: Context) -> dict[str, Field]:
    """The party fields of ``document_type`` (empty for types without party rules)."""
    rules = party_rules().get(document_type)
    if rules is None:
        return {}
    blocks = _blocks(rules, lines)
    return {p.field: _party_code(blocks[p.field], ctx) for p in rules.parties}
