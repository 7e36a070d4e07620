"""Codes found by validity anywhere on the page, and phones written outside their cell.

A USCC or ID number is often printed away from its label (the current license prints the code
above or before ``统一社会信用代码``, beside the QR code). After the labelled search, every
18-character run on the page is a candidate; one that passes its check digit is accepted.
Two different valid codes on one page is a doubt (``uscc_candidates_mismatch`` /
``id_candidates_mismatch``): the nearest to the label is kept and the field goes to review.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ingest.extract.convert import (
    CONF_ANYWHERE,
    CONF_CORRECTED,
    CONF_DOUBTFUL,
    CONF_PATTERN,
    Context,
    code_check,
    code_prefix,
    make_field,
)
from ingest.extraction_rules import FieldRule
from ingest.fields import CONFUSION_GROUPS, Field, correct_code
from models.validation import ValidationError, validate_phone

CODE_KINDS = ("uscc", "id_number")
_RUN = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])")
#: Most letter-for-digit readings tried for one run (a row of circles read as O is no code).
_MAX_READINGS = 256


def _readings(run: str, alphabet: str) -> int:
    """How many codes the forced repairs of ``run`` give (0 when a character has none)."""
    count = 1
    for ch in run:
        if ch not in alphabet:
            group = next((g for g in CONFUSION_GROUPS if ch in g), "")
            count *= sum(1 for c in group if c != ch and c in alphabet)
    return count


@dataclass(frozen=True)
class Candidate:
    """A valid code on the page; ``corrected`` when only letter-for-digit fixes made it so."""

    code: str
    line: int
    corrected: bool = False


def page_candidates(kind: str, lines: Sequence[str], ctx: Context) -> list[Candidate]:
    """Every 18-character run of the page that is a valid code of ``kind``, in reading order.

    A run is repaired only where a character cannot be part of the code at all (O in an ID
    number); optional swaps (8 <-> B) would make a valid code out of almost any run.
    """
    is_valid, alphabet = code_check(kind, ctx)
    other_kind = CODE_KINDS[1 - CODE_KINDS.index(kind)]
    other_valid, _ = code_check(other_kind, ctx)
    found: list[Candidate] = []
    for i, line in enumerate(lines):
        for run in _RUN.findall(line.upper()):
            if other_valid(run) or not 0 < _readings(run, alphabet) <= _MAX_READINGS:
                continue  # an ID number is not a USCC that happens to validate, and back
            code, changed = correct_code(run, is_valid, alphabet=alphabet, max_changes=0)
            if code:
                found.append(Candidate(code, i, changed))
    return found


def label_lines(rule: FieldRule, lines: Sequence[str]) -> list[int]:
    """Indexes of the lines that print one of the rule's labels."""
    labels = [label.casefold() for label in rule.labels]
    return [i for i, line in enumerate(lines) if any(lb in line.casefold() for lb in labels)]


def _distance(candidate: Candidate, near: Sequence[int]) -> int:
    return min((abs(candidate.line - n) for n in near), default=len(near) + 10**6)


def resolve_code(
    rule: FieldRule,
    labelled: Field | None,
    candidates: Sequence[Candidate],
    near: Sequence[int],
    ctx: Context,
) -> Field | None:
    """The code field from the labelled value and the page's valid candidates.

    A valid labelled value stands, flagged when another valid code is on the page. Otherwise a
    valid code on the page replaces a missing or invalid labelled one (the nearest to the label
    when there are several, flagged); a labelled value stays as read when none is valid.
    """
    prefix = code_prefix(rule.kind)
    conflict = f"{prefix}_candidates_mismatch"
    is_valid, _ = code_check(rule.kind, ctx)
    direct = [c for c in candidates if not c.corrected]
    if labelled is not None and labelled.value and is_valid(labelled.value):
        if any(c.code != labelled.value for c in direct):
            return replace(
                labelled,
                reasons=[*labelled.reasons, conflict],
                confidence=min(labelled.confidence, CONF_DOUBTFUL),
            )
        return labelled
    if direct:
        best = min(direct, key=lambda c: _distance(c, near))
        if len({c.code for c in direct}) > 1:
            return make_field(best.code, CONF_DOUBTFUL, ctx, [conflict], raw=best.code)
        confidence = CONF_PATTERN if _distance(best, near) <= 1 else CONF_ANYWHERE
        return make_field(best.code, confidence, ctx, raw=best.code)
    repaired = {c.code for c in candidates}
    if labelled is None and len(repaired) == 1:
        code = repaired.pop()
        return make_field(code, CONF_CORRECTED, ctx, [f"{prefix}_corrected"], raw=code)
    return labelled


# Mobile numbers (131-7618-6762, 13176186762) and landlines with an area code (027-46638103).
_PHONE = re.compile(r"(?<![0-9A-Za-z])(?:1[3-9]\d(?:-?\d{4}){2}|0\d{2,3}-\d{7,8})(?![0-9A-Za-z])")


def page_phone(joined: str, ctx: Context) -> Field | None:
    """The one valid phone number written anywhere on the page (a cell's value OCR put at
    the end of the page), or None when there is none or several."""
    found: set[str] = set()
    for token in _PHONE.findall(joined):
        try:
            found.add(validate_phone(token))
        except ValidationError:
            continue
    if len(found) != 1:
        return None
    phone = found.pop()
    return make_field(phone, CONF_ANYWHERE, ctx, raw=phone)
