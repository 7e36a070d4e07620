"""The accuracy bench's flag table: do the doubts on fields find the wrong values?

For every field whose printed value the sample generator knows (:data:`FLAG_FIELDS`), the
bench compares the read value with the printed one (right or wrong) and notes whether the
field carries a doubt a reviewer sees (flagged: :func:`ingest.extract.confidence.is_flagged`,
the same test the document page highlights by). Three figures:

* recall: of the wrong values, the share flagged (goal >= 95%);
* precision: of the flagged values, the share wrong (goal >= 50%);
* doubt-free: of the documents with every compared field right, the share without any reading
  doubt on any field (goal >= 60%): what lets "anomalies first" sort the review queue.

Status reasons (``expired``, ``expiring``) state a fact about the document, not a doubt about a
reading, and are not counted as flags (:data:`ingest.extract.confidence.STATUS_REASONS`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from ingest.extract.confidence import is_flagged
from ingest.fields import LONG_TERM, compact, parse_amount

#: Extracted field key -> truth key, per kind: every field the generator prints and the
#: extraction reads (the registration authority under the seal and the license's issue date
#: are printed but not in the truth's fields).
FLAG_FIELDS: dict[str, dict[str, str]] = {
    "business_license": {
        "uscc": "uscc",
        "name": "name",
        "company_type": "company_type",
        "legal_representative": "legal_representative",
        "registered_capital": "registered_capital",
        "established_date": "established",
        "term_start": "term_start",
        "term_end": "term_end",
        "address": "address",
        "business_scope": "business_scope",
    },
    "id_card": {
        "name": "name",
        "gender": "gender",
        "ethnicity": "ethnicity",
        "birth_date": "birth_date",
        "address": "address",
        "id_number": "id_number",
        "issuing_authority": "issuer",
        "valid_from": "valid_from",
        "valid_to": "valid_to",
    },
    "bank_permit": {
        "approval_number": "approval_number",
        "serial_number": "serial_number",
        "depositor_name": "depositor_name",
        "legal_representative": "legal_representative",
        "bank_name": "bank",
        "account_number": "account_number",
        "issue_date": "issue_date",
    },
    "customer_form": {
        "customer_name": "name",
        "customer_type": "customer_type",
        "uscc": "uscc",
        "legal_representative": "legal_representative",
        "contact_person": "contact",
        "phone": "phone",
        "email": "email",
        "address": "address",
        "industry": "industry",
        "source_channel": "source",
        "submitted_by": "contact",  # 填表人: the sample's contact fills in the form
        "filled_date": "filled_date",
    },
    "contract": {
        "contract_name": "title",
        "contract_number": "contract_number",
        "party_a": "party_a",
        "party_b": "party_b",
        "signed_date": "signed_date",
        "amount": "amount",
    },
}
_AMOUNTS = frozenset({"registered_capital", "amount"})


def _text(value: object) -> str:
    return compact(str(value if value is not None else "")).rstrip("。.")


def _amount(value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(value)
    parsed = parse_amount(str(value))
    if parsed is not None:
        return parsed[0]
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def value_right(truth_key: str, printed: object, field: Mapping[str, Any] | None) -> bool:
    """Whether a read field holds the printed value (dates ISO, amounts as numbers)."""
    read = (field or {}).get("value")
    if truth_key in _AMOUNTS:
        return _amount(printed) == _amount(read)
    if printed is None and truth_key == "term_end":
        printed = LONG_TERM
    return _text(printed) == _text(read)


def field_flags(
    kind: str, truth_fields: Mapping[str, object], fields: Mapping[str, Any]
) -> dict[str, list[bool]]:
    """Field key -> ``[right, flagged]`` for every compared field of one document."""
    out: dict[str, list[bool]] = {}
    for key, truth_key in FLAG_FIELDS.get(kind, {}).items():
        field = fields.get(key)
        field = field if isinstance(field, Mapping) else None
        out[key] = [
            value_right(truth_key, truth_fields.get(truth_key), field),
            is_flagged(field or {"value": None, "reasons": ["missing"]}),
        ]
    return out


def doubt_free(fields: Mapping[str, Any]) -> bool:
    """No field of the document (compared or not) carries a reading doubt."""
    return not any(
        is_flagged(f) for k, f in fields.items() if not k.startswith("_") and isinstance(f, Mapping)
    )


def _pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.1f}%)" if d else "—"


def flag_rows(results: Sequence[Any], *, by: str | None = None) -> list[dict]:
    """Recall, precision and doubt-free documents per engine (and ``kind`` when ``by``)."""
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in results:
        if r.flags:
            groups[(r.engine, getattr(r, by) if by else "all")].append(r)
    rows = []
    for (engine, group), rs in sorted(groups.items()):
        pairs = [pair for r in rs for pair in r.flags.values()]
        wrong = [flagged for right, flagged in pairs if not right]
        flagged = [right for right, f in pairs if f]
        all_right = [r for r in rs if all(right for right, _ in r.flags.values())]
        rows.append(
            {
                "engine": engine,
                "group": group,
                "documents": len(rs),
                "fields": len(pairs),
                "wrong": len(wrong),
                "flagged": len(flagged),
                "recall": _pct(sum(wrong), len(wrong)),
                "precision": _pct(sum(not right for right in flagged), len(flagged)),
                "all_right_docs": len(all_right),
                "doubt_free": _pct(sum(r.doubt_free for r in all_right), len(all_right)),
            }
        )
    return rows


def per_field_rows(results: Sequence[Any]) -> list[dict]:
    """Per field key: how often wrong, flagged, and wrong but not flagged (the misses)."""
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in results:
        for key, (right, flagged) in (r.flags or {}).items():
            c = counts[(r.engine, r.kind, key)]
            c[0] += 1
            c[1] += not right
            c[2] += flagged
            c[3] += (not right) and not flagged
    return [
        {
            "engine": e,
            "kind": k,
            "field": f,
            "values": c[0],
            "wrong": c[1],
            "flagged": c[2],
            "missed": c[3],
        }
        for (e, k, f), c in sorted(counts.items())
        if c[1] or c[2]
    ]
