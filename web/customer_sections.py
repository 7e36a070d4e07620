"""The parts of a customer's page below its fields: contacts, follow-ups, cooperation records,
tags, the level override and (admins) merging a duplicate.

Formatting and form handling only: the rules are the models' (``models.contact``,
``models.followup``, ``models.cooperation``, ``models.tag``) and the services'
(``archive.contacts`` …), whose Chinese errors the page shows beside the field they name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from app.records import contact_record, cooperation_record, follow_up_record
from archive import contacts, cooperations, followups, tags
from archive.customers import similar_customers
from archive.permissions import Action, can
from archive.tiers import tier_level
from config.settings import Settings
from config.taxonomy import Taxonomy
from models.contact import CONTACT_LABELS, CONTACT_OPTION_KEYS
from models.cooperation import COOPERATION_LABELS
from models.customer import Customer
from models.followup import FOLLOW_UP_LABELS, FOLLOW_UP_OPTION_KEYS
from models.tag import MAX_TAGS_PER_CUSTOMER
from models.user import User

#: The inputs of each form: (name, kind); labels come from the models.
CONTACT_INPUTS = (
    ("name", "text"),
    ("gender", "select"),
    ("department", "text"),
    ("title", "text"),
    ("mobile", "tel"),
    ("office_phone", "tel"),
    ("email", "email"),
    ("wechat", "text"),
    ("communication_preference", "select"),
    ("relationship_level", "select"),
    ("responsibilities", "textarea"),
    ("is_primary", "flag"),
    ("is_decision_maker", "flag"),
)
FOLLOW_UP_INPUTS = (
    ("followed_at", "datetime"),  # a browser sends 2026-12-01T10:30
    ("channel", "select"),
    ("status", "select"),
    ("next_date", "date"),
    ("content", "textarea"),
    ("next_step", "text"),
)
COOPERATION_INPUTS = (
    ("name", "text"),
    ("contract_no", "text"),
    ("signed_date", "date"),
    ("effective_date", "date"),
    ("expiry_date", "date"),
    ("amount", "money"),
    ("payment_terms", "text"),
    ("status", "select"),
)
REQUIRED = {"contact": {"name"}, "follow_up": {"content"}, "cooperation": {"name"}}
MASKED_CONTACT_FIELDS = ("mobile", "office_phone")
_PARTS = {
    "contact": (CONTACT_INPUTS, CONTACT_LABELS, CONTACT_OPTION_KEYS),
    "follow_up": (FOLLOW_UP_INPUTS, FOLLOW_UP_LABELS, FOLLOW_UP_OPTION_KEYS),
    "cooperation": (COOPERATION_INPUTS, COOPERATION_LABELS, {"status": "cooperation_status"}),
}


@dataclass
class SectionForm:
    """A submitted form of one section shown again: which one, its values and errors."""

    key: str  # "contact-new", "contact-<id>", "follow_up", "cooperation", "tags", "level", "merge"
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def inputs(part: str, taxonomy: Taxonomy, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The inputs of a section's form with their labels, choices and current values."""
    spec, labels, option_keys = _PARTS[part]
    out = []
    for name, kind in spec:
        choices = list(taxonomy.options.get(option_keys.get(name, ""), ()))
        value = values.get(name)
        if kind == "select" and value and value not in choices:
            choices.append(str(value))
        out.append(
            {
                "name": name,
                "label": labels.get(name, name),
                "kind": kind,
                "choices": choices,
                "value": "" if value is None else value,
                "required": name in REQUIRED[part],
            }
        )
    return out


def submitted(part: str, form: Any) -> dict[str, Any]:
    """A section form's values as typed (flags: checked or not; a browser's ``T`` in a
    date-time becomes a space)."""
    spec = _PARTS[part][0]
    out: dict[str, Any] = {}
    for name, kind in spec:
        if kind == "flag":
            out[name] = name in form
            continue
        value = str(form.get(name) or "").strip()
        out[name] = value.replace("T", " ", 1) if kind == "datetime" else value
    return out


def contact_changes(values: Mapping[str, Any], *, masked: bool) -> dict[str, Any]:
    """An edit's changes: a masked phone box left empty keeps the stored number."""
    return {
        k: v for k, v in values.items() if not (masked and k in MASKED_CONTACT_FIELDS and v == "")
    }


def _contact_view(contact: Any, *, unmask: bool) -> dict[str, Any]:
    record = contact_record(contact, unmask=unmask)
    form = {k: ("" if v is None else v) for k, v in record.items()}
    if not unmask:
        form.update(dict.fromkeys(MASKED_CONTACT_FIELDS, ""))
    return {"record": record, "form_values": form}


def sections(
    session: Session,
    settings: Settings,
    user: User,
    customer: Customer,
    *,
    unmask: bool,
) -> dict[str, Any]:
    """What the page's sections show for ``customer`` (the viewer may see it)."""
    code = customer.code
    is_admin = can(user, Action.MERGE_CUSTOMERS)
    current_tags = tags.customer_tags(session, user, code)
    have = {t.name for t in current_tags}
    available = [n for n in tags.tag_names(session, include_retired=False) if n not in have]
    similar = similar_customers(session, name=customer.name, exclude_code=code) if is_admin else []
    return {
        "contacts": [
            _contact_view(c, unmask=unmask) for c in contacts.list_contacts(session, user, code)
        ],
        "masked_phones": not unmask,
        "follow_ups": [follow_up_record(f) for f in followups.list_follow_ups(session, user, code)],
        "cooperations": [
            cooperation_record(c) for c in cooperations.list_cooperations(session, user, code)
        ],
        "tags": [t.name for t in current_tags],
        "available_tags": available,
        "max_tags": MAX_TAGS_PER_CUSTOMER,
        "level_options": list(settings.taxonomy.options.get("level", ())),
        "tier_level": tier_level(settings, customer.value_tier),
        "duplicates": [c for c in similar if c.customer_type == customer.customer_type],
        "may_merge": is_admin,
    }
