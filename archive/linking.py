"""Link a document to its customer: by USCC or ID number first, then by exact normalized name.

Several candidates: link none and list them for the reviewer. No match: create a new customer
(status 潜在客户 / prospect) whose type is inferred from the document.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlmodel import Session, select

from models.customer import Customer

# Which extracted field identifies the customer, per document type.
_CODE_FIELDS = ("uscc", "id_number")
_NAME_FIELDS = ("name", "customer_name", "depositor_name", "party_a")
_INDIVIDUAL_TYPES = {"id_card"}

_BRACKETS = str.maketrans({"（": "(", "）": ")", "【": "[", "】": "]", "　": " "})


def normalize_name(name: str) -> str:
    """Compare names after NFKC (full-width to half-width), unified brackets and no spaces.

    ``北京某某（上海）有限公司`` and ``北京某某(上海)有限公司`` normalize to the same string.
    """
    text = unicodedata.normalize("NFKC", name or "").translate(_BRACKETS)
    return "".join(text.split())


@dataclass(frozen=True)
class LinkResult:
    customer: Customer | None
    matched_by: str | None  # "uscc", "id_number", "name" or None
    candidates: tuple[str, ...] = ()  # customer codes when ambiguous
    create: Mapping[str, str] | None = None  # fields for a new customer when nothing matched
    reasons: tuple[str, ...] = field(default_factory=tuple)


def field_value(fields: Mapping[str, object], name: str) -> str | None:
    """The value of an extracted field, whether stored as a plain value or as {value: ...}."""
    raw = fields.get(name)
    if isinstance(raw, Mapping):
        raw = raw.get("value")
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def _field_is_trusted(fields: Mapping[str, object], name: str) -> bool:
    raw = fields.get(name)
    reasons = raw.get("reasons", []) if isinstance(raw, Mapping) else []
    return not any("check_digit" in str(r) for r in reasons)


_CJK = re.compile(r"[\u4e00-\u9fff]")
_PERSON_NAME = re.compile(r"^[\u4e00-\u9fff]{1,4}(?:[·•][\u4e00-\u9fff]{1,8})?$")


def plausible_name(name: str, customer_type: str) -> bool:
    """Whether an OCR'd name is good enough to create a customer from it.

    A person's name is 2-5 Chinese characters (or a minority name with a middle dot); a company
    name has at least four characters, mostly Chinese. Anything else (OCR garbage such as
    ``OSs``) is left for a reviewer instead of becoming a customer record.
    """
    compact = "".join(name.split())
    if customer_type == "individual":
        return 2 <= len(compact) <= 12 and bool(_PERSON_NAME.match(compact))
    cjk = len(_CJK.findall(compact))
    return len(compact) >= 4 and cjk >= max(4, int(len(compact) * 0.6))


def infer_customer_type(document_type: str, fields: Mapping[str, object]) -> str:
    if document_type in _INDIVIDUAL_TYPES or (
        field_value(fields, "id_number") and not field_value(fields, "uscc")
    ):
        return "individual"
    return "enterprise"


def find_customer(
    session: Session, *, document_type: str, fields: Mapping[str, object]
) -> LinkResult:
    """Find the customer a document belongs to, without changing anything."""
    for code_field in _CODE_FIELDS:
        code = field_value(fields, code_field)
        if not code or not _field_is_trusted(fields, code_field):
            continue
        column = Customer.uscc if code_field == "uscc" else Customer.id_number
        hit = session.exec(select(Customer).where(column == code.upper())).first()
        if hit is not None:
            return LinkResult(customer=hit, matched_by=code_field)

    name = next((v for f in _NAME_FIELDS if (v := field_value(fields, f))), None)
    if name:
        wanted = normalize_name(name)
        rows = session.exec(select(Customer)).all() if wanted else []
        hits = [c for c in rows if normalize_name(c.name) == wanted]
        if len(hits) == 1:
            return LinkResult(customer=hits[0], matched_by="name")
        if len(hits) > 1:
            return LinkResult(
                customer=None,
                matched_by=None,
                candidates=tuple(sorted(c.code for c in hits)),
                reasons=("ambiguous_customer",),
            )
        ctype = infer_customer_type(document_type, fields)
        if not plausible_name(name, ctype):
            return LinkResult(customer=None, matched_by=None, reasons=("unlinked",))
        create = {"name": name, "customer_type": ctype}
        for src, dst in (
            ("uscc", "uscc"),
            ("id_number", "id_number"),
            ("legal_representative", "legal_representative"),
            ("address", "address"),
            ("established_date", "established_date"),
        ):
            value = field_value(fields, src)
            if value and _field_is_trusted(fields, src):
                create[dst] = value
        return LinkResult(customer=None, matched_by=None, create=create)
    return LinkResult(customer=None, matched_by=None, reasons=("unlinked",))
