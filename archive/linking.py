"""Link a document to its customer: by code, by the file's other documents, then by name.

Rules, in order:

1. **ID cards in a bundle.** An ID card that arrives in the same file as a company's license or
   form (``bundle``) is filed with that company: the one whose 法定代表人 has the card's name,
   or the only customer of the bundle.
2. **Codes.** A trusted USCC or ID number (no check-digit, correction or mismatch reason on the
   field) matches ``customer.uscc`` / ``customer.id_number``. An untrusted code is never used.
3. **Names.** An ID card's name matches an individual customer's name or an enterprise
   customer's 法定代表人 (the representative's card is filed with the company). Any other
   document's name (名称, 客户名称, 存款人名称, 甲方) matches ``customer.name_key``, the indexed
   normalized name (full/half width, brackets and spaces do not matter).
4. **Bundle fallback.** A document of a bundle that matched nothing (and carries no trusted
   USCC of its own) belongs to the bundle's only customer.

**Contracts** are linked only to a customer that is one of their parties (甲方/乙方, by the
party's trusted USCC, else its name): never to the bundle's company, never to a new customer.
When no party is a known customer the contract stays unlinked (``contract_party_unknown``).

``exclude``: customers left out of every match (the relink pass in ``archive.relink`` asks
again without the provisional customer a document created for itself).

Several candidates: link none, list their codes, reason ``ambiguous_customer``. No match: a new
customer (status 潜在客户 / prospect) whose type is inferred from the document - only when the
name is plausible, so OCR garbage never becomes a customer.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, select

from config.taxonomy import load_taxonomy
from models.customer import Customer, normalize_customer_name

# Which extracted field identifies the customer, per document type.
_CODE_FIELDS = ("uscc", "id_number")
_NAME_FIELDS = ("name", "customer_name", "depositor_name")
#: Contract parties: (name field, USCC field), as extracted by ingest (understanding.toml).
CONTRACT_PARTIES = (("party_a", "party_a_uscc"), ("party_b", "party_b_uscc"))
_CONTRACT_TYPES = {"contract"}
_INDIVIDUAL_TYPES = {"id_card"}
#: Field reasons that make a code unfit for linking (set by ingest's checks).
_UNTRUSTED_MARKERS = ("check_digit", "corrected", "mismatch")
#: Most candidates listed for the reviewer when a name is ambiguous.
_MAX_CANDIDATES = 20


def normalize_name(name: str) -> str:
    """Compare names after NFKC (full-width to half-width), unified brackets and no spaces.

    ``北京某某（上海）有限公司`` and ``北京某某(上海)有限公司`` normalize to the same string.
    """
    return normalize_customer_name(name)


@dataclass(frozen=True)
class LinkResult:
    customer: Customer | None
    # "bundle", "uscc", "id_number", "name", "legal_representative" or None
    matched_by: str | None
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


def field_is_trusted(fields: Mapping[str, object], name: str) -> bool:
    """False when the field carries a check-digit, correction or mismatch reason."""
    reasons = field_reasons(fields, name)
    return not any(m in r for r in reasons for m in _UNTRUSTED_MARKERS)


def field_reasons(fields: Mapping[str, object], name: str) -> list[str]:
    """The doubt reasons recorded on one extracted field (``reasons`` list or ``reason``)."""
    raw = fields.get(name)
    if not isinstance(raw, Mapping):
        return []
    reasons = [str(r) for r in raw.get("reasons") or ()]
    return [*reasons, str(raw["reason"])] if raw.get("reason") else reasons


def trusted_value(fields: Mapping[str, object], name: str) -> str | None:
    """A field's value when it is present and trusted, else None."""
    value = field_value(fields, name)
    return value if value and field_is_trusted(fields, name) else None


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
    """individual or enterprise: the type a form ticks (客户类型, by its taxonomy label) when
    it is one, else an ID card or an ID number without a USCC means a person."""
    ticked = field_value(fields, "customer_type")
    known = load_taxonomy().customer_type_by_label(ticked) if ticked else None
    if known is not None:
        return known.code
    if document_type in _INDIVIDUAL_TYPES or (
        field_value(fields, "id_number") and not field_value(fields, "uscc")
    ):
        return "individual"
    return "enterprise"


# --- matching ---------------------------------------------------------------------------------


def _decide(
    hits: Sequence[Customer], matched_by: str, exclude: Collection[int] = ()
) -> LinkResult | None:
    """One hit links, several are ambiguous, none is no decision (None)."""
    unique = [c for c in {c.id: c for c in hits}.values() if c.id not in exclude]
    if len(unique) == 1:
        return LinkResult(customer=unique[0], matched_by=matched_by)
    if len(unique) > 1:
        codes = sorted(c.code for c in unique)[:_MAX_CANDIDATES]
        return LinkResult(
            customer=None,
            matched_by=None,
            candidates=tuple(codes),
            reasons=("ambiguous_customer",),
        )
    return None


def _by_uscc(session: Session, code: str, exclude: Collection[int]) -> Customer | None:
    hit = session.exec(select(Customer).where(Customer.uscc == code.upper())).first()
    return hit if hit is not None and hit.id not in exclude else None


def _by_code(
    session: Session, fields: Mapping[str, object], exclude: Collection[int]
) -> LinkResult | None:
    for code_field in _CODE_FIELDS:
        code = trusted_value(fields, code_field)
        if not code:
            continue
        column = Customer.uscc if code_field == "uscc" else Customer.id_number
        hit = session.exec(select(Customer).where(column == code.upper())).first()
        if hit is not None and hit.id not in exclude:
            return LinkResult(customer=hit, matched_by=code_field)
    return None


def _person_key(name: str | None) -> str:
    return normalize_customer_name(name)


def _represented_by(customers: Sequence[Customer], person: str) -> list[Customer]:
    key = _person_key(person)
    return [c for c in customers if _person_key(c.legal_representative) == key]


def _id_card_in_bundle(
    fields: Mapping[str, object], bundle: Sequence[Customer], exclude: Collection[int]
) -> LinkResult | None:
    """The bundle's company (or person) an ID card belongs to."""
    bundle = [c for c in bundle if c.id not in exclude]
    if not bundle:
        return None
    person = field_value(fields, "name")
    if person:
        key = _person_key(person)
        people = [c for c in bundle if c.customer_type == "individual" and c.name_key == key]
        decided = _decide(_represented_by(bundle, person), "bundle") or _decide(people, "bundle")
        if decided is not None:
            return decided
    return _decide(bundle, "bundle")


def _person_by_name(session: Session, person: str, exclude: Collection[int]) -> LinkResult | None:
    """Individuals with this name and companies with this legal representative."""
    key = _person_key(person)
    individuals = [
        c
        for c in session.exec(
            select(Customer).where(Customer.name_key == key, Customer.customer_type == "individual")
        ).all()
        if c.id not in exclude
    ]
    companies = [
        c
        for c in session.exec(
            select(Customer).where(
                Customer.legal_representative_key == key, Customer.customer_type == "enterprise"
            )
        ).all()
        if c.id not in exclude
    ]
    if individuals and not companies:
        return _decide(individuals, "name")
    if companies and not individuals:
        return _decide(companies, "legal_representative")
    return _decide([*individuals, *companies], "name")


def _named(session: Session, name: str) -> list[Customer]:
    key = normalize_name(name)
    if not key:
        return []
    return list(
        session.exec(
            select(Customer).where(Customer.name_key == key).limit(_MAX_CANDIDATES + 1)
        ).all()
    )


def _by_name(session: Session, name: str, exclude: Collection[int]) -> LinkResult | None:
    return _decide(_named(session, name), "name", exclude)


def _bundle_fallback(
    fields: Mapping[str, object], bundle: Sequence[Customer], exclude: Collection[int]
) -> LinkResult | None:
    if not bundle or trusted_value(fields, "uscc"):
        return None
    return _decide(bundle, "bundle", exclude)


def contract_parties(fields: Mapping[str, object]) -> list[dict[str, str | None]]:
    """The parties printed on a contract: ``{"role", "name", "uscc"}`` (USCC only if trusted)."""
    parties: list[dict[str, str | None]] = []
    for name_field, uscc_field in CONTRACT_PARTIES:
        name = field_value(fields, name_field)
        uscc = trusted_value(fields, uscc_field)
        if name or uscc:
            parties.append({"role": name_field, "name": name, "uscc": uscc})
    return parties


def _contract_party(
    session: Session, fields: Mapping[str, object], exclude: Collection[int]
) -> LinkResult:
    """The known customer that is a party of the contract (by USCC, else by name)."""
    hits: list[Customer] = []
    for party in contract_parties(fields):
        hit = _by_uscc(session, party["uscc"], exclude) if party["uscc"] else None
        if hit is None and party["name"]:
            hit_list = [c for c in _named(session, party["name"]) if c.id not in exclude]
            hits.extend(hit_list)
        elif hit is not None:
            hits.append(hit)
    decided = _decide(hits, "party")
    if decided is not None:
        return decided
    return LinkResult(
        customer=None, matched_by=None, reasons=("unlinked", "contract_party_unknown")
    )


_CREATE_FIELDS = ("uscc", "id_number", "legal_representative", "address", "established_date")


def _to_create(document_type: str, fields: Mapping[str, object], name: str) -> LinkResult:
    ctype = infer_customer_type(document_type, fields)
    if not plausible_name(name, ctype):
        return LinkResult(customer=None, matched_by=None, reasons=("unlinked",))
    create = {"name": name, "customer_type": ctype}
    for src in _CREATE_FIELDS:
        value = trusted_value(fields, src)
        if value:
            create[src] = value
    return LinkResult(customer=None, matched_by=None, create=create)


def find_customer(
    session: Session,
    *,
    document_type: str,
    fields: Mapping[str, object],
    bundle: Sequence[Customer] = (),
    exclude: Collection[int] = (),
) -> LinkResult:
    """Find the customer a document belongs to, without changing anything.

    Args:
        session: Open session (read only).
        document_type: The document's type code.
        fields: Its extracted fields (``{name: {"value", "reasons", ...}}`` or plain values).
        bundle: Customers already found for the other documents of the same input file
            (licenses and forms first), in the order found.
        exclude: Ids of customers never to match (see the module docstring).

    Returns:
        A :class:`LinkResult`: a customer, candidates (ambiguous), fields for a new customer,
        or nothing with reason ``unlinked``.
    """
    if document_type in _CONTRACT_TYPES:
        return _contract_party(session, fields, exclude)
    is_id_card = document_type in _INDIVIDUAL_TYPES
    if is_id_card and (found := _id_card_in_bundle(fields, bundle, exclude)) is not None:
        return found
    if (found := _by_code(session, fields, exclude)) is not None:
        return found
    person = field_value(fields, "name") if is_id_card else None
    if person and (found := _person_by_name(session, person, exclude)) is not None:
        return found
    name = next((v for f in _NAME_FIELDS if (v := field_value(fields, f))), None)
    if name and not is_id_card and (found := _by_name(session, name, exclude)) is not None:
        return found
    if (found := _bundle_fallback(fields, bundle, exclude)) is not None:
        return found
    if name:
        return _to_create(document_type, fields, name)
    return LinkResult(customer=None, matched_by=None, reasons=("unlinked",))


# --- customer fields from a document ----------------------------------------------------------

#: License field -> customer column filled when empty, compared when not.
LICENSE_CUSTOMER_FIELDS = (
    ("uscc", "uscc"),
    ("name", "name"),
    ("legal_representative", "legal_representative"),
    ("established_date", "established_date"),
    ("address", "address"),
)
#: Customer form (客户资料登记表) field -> customer column, the same way.
FORM_CUSTOMER_FIELDS = (
    ("contact_person", "contact_person"),
    ("phone", "phone"),
    ("email", "email"),
    ("address", "address"),
)
#: Which document types fill and check their customer's record, and with which fields.
CUSTOMER_FIELDS_BY_TYPE: Mapping[str, tuple[tuple[str, str], ...]] = {
    "business_license": LICENSE_CUSTOMER_FIELDS,
    "customer_form": FORM_CUSTOMER_FIELDS,
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _comparable(column: str, value: object) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value or "")
    if column == "uscc":
        return text.strip().upper()
    if column == "phone":
        return re.sub(r"\D", "", text)
    if column == "email":
        return text.strip().casefold()
    return normalize_customer_name(text)


@dataclass(frozen=True)
class FieldComparison:
    """What a document says about its customer's record.

    ``fills``: customer column -> value, for columns that are empty on the record (only values
    without any doubt reason). ``differences``: ``{"field", "record", "document"}`` for columns
    whose recorded value differs from a trusted document value.
    """

    fills: dict[str, str]
    differences: list[dict[str, str]]


def compare_customer_fields(
    customer: Customer,
    fields: Mapping[str, object],
    *,
    document_type: str = "business_license",
) -> FieldComparison:
    """Compare a document's fields with its customer's record, without changing anything.

    Args:
        customer: The linked customer.
        fields: The document's extracted fields.
        document_type: Which mapping applies (:data:`CUSTOMER_FIELDS_BY_TYPE`; other types
            compare nothing).
    """
    fills: dict[str, str] = {}
    differences: list[dict[str, str]] = []
    for src, column in CUSTOMER_FIELDS_BY_TYPE.get(document_type, ()):
        value = trusted_value(fields, src)
        if not value or (column == "established_date" and not _ISO_DATE.match(value)):
            continue
        recorded = getattr(customer, column)
        if recorded in (None, ""):
            if not field_reasons(fields, src):
                fills[column] = value
        elif _comparable(column, recorded) != _comparable(column, value):
            record = recorded.isoformat() if hasattr(recorded, "isoformat") else str(recorded)
            differences.append({"field": column, "record": record, "document": value})
    return FieldComparison(fills=fills, differences=differences)
