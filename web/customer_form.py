"""The customer form and page as templates need them: inputs per field group, values, errors.

Formatting and form handling only; the rules (required fields, formats, option lists) are the
model's (:func:`models.customer.validate_customer_values`), which :func:`collect_errors` runs
repeatedly so that one submission shows every field's error at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from config.taxonomy import Taxonomy
from models.customer import (
    CUSTOMER_STATUS_VALUES,
    Customer,
    CustomerStatus,
    validate_customer_values,
)
from models.customer import _required as required_fields  # the rule's one home (private)
from models.customer_fields import GROUP_LABELS, GROUPS, OPTION_KEYS, label
from models.errors import ValidationError
from models.user import User
from models.validation import mask_id_number, mask_phone
from web.views import local_time

#: Labels the models do not name yet (shown on the page only).
#: Field -> the taxonomy ``[options]`` list of its dropdown.
OPTION_SOURCE = {
    "industry": "industry",
    "scale": "scale",
    "region": "region",
    "level": "level",
    "source_channel": "source_channel",
    "decision_roles": "decision_role",
    **OPTION_KEYS,
}
DATE_FIELDS = frozenset(
    {"established_date", "first_cooperation_date", "latest_cooperation_date", "last_service_date"}
)
KINDS = {
    "phone": "tel",
    "email": "email",
    "notes": "textarea",
    "decision_roles": "multi",
    "complaint_count": "number",
    "cumulative_amount": "money",
    "satisfaction": "satisfaction",
    "owner_id": "owner",
    "customer_type": "customer_type",
    "status": "status",
}
HINTS = {
    "campaigns": "多个活动用顿号“、”或逗号分隔",
    "cumulative_amount": "单位：元，最多两位小数",
    "phone": "11位手机号或带区号的固话，如 010-12345678",
    "uscc": "企业客户填写，18位",
    "id_number": "个人客户填写，18位",
}
#: Shown on the page but never typed in the form.
NOT_IN_FORM = frozenset({"code", "updated_at"})
#: Values a sales user sees masked; in their edit form an empty box keeps the stored value.
MASKED_FIELDS = ("id_number", "phone")
#: Numbers that belong to one customer type only (the model refuses them on the other).
KIND_ONLY = {"uscc": "enterprise", "id_number": "individual"}
#: Multi-value fields typed as text (one box, values separated by 、).
TEXT_LISTS = frozenset({"campaigns"})
SATISFACTION = ("1", "2", "3", "4", "5")


def field_label(name: str) -> str:
    """The Chinese label of a customer field."""
    return label(name)


def applies(name: str, customer: Customer | None) -> bool:
    """Whether a field belongs on this customer's form and page (an empty number of the other
    customer type does not; a stored one is always shown so nothing is hidden)."""
    kind = KIND_ONLY.get(name)
    if customer is None or kind is None or kind == customer.customer_type:
        return True
    return bool(getattr(customer, name))


def form_field_names(
    *, editing: bool, owner_editable: bool, customer: Customer | None = None
) -> list[str]:
    """The fields the form submits (a customer's type is fixed once created)."""
    names = [
        n
        for group in GROUPS.values()
        for n in group
        if n not in NOT_IN_FORM and applies(n, customer)
    ]
    if editing:
        names.remove("customer_type")
    if not owner_editable:
        names.remove("owner_id")
    return names


def _as_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, date | Decimal | int):
        return value.isoformat() if isinstance(value, date) else str(value)
    return str(value)


def stored_values(customer: Customer) -> dict[str, Any]:
    """A customer's values as the form shows them (strings; lists for multi-selects)."""
    names = [n for group in GROUPS.values() for n in group if n not in NOT_IN_FORM]
    out = {name: _as_text(getattr(customer, name)) for name in names}
    for name in TEXT_LISTS:
        out[name] = "、".join(out[name])
    return out


def submitted_values(form: Any, names: Sequence[str]) -> dict[str, Any]:
    """The form's values for ``names`` (strings, stripped; lists for multi-selects)."""
    out: dict[str, Any] = {}
    for name in names:
        if KINDS.get(name) == "multi":
            out[name] = [str(v) for v in form.getlist(name) if str(v).strip()]
        else:
            value = form.get(name)
            out[name] = value.strip() if isinstance(value, str) else ""
    return out


def service_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Form values as the service takes them (``owner_id`` an int or None), and any errors."""
    out = dict(values)
    errors: dict[str, str] = {}
    if "owner_id" in out:
        raw = str(out["owner_id"] or "")
        if raw and not raw.isdigit():
            errors["owner_id"] = f"{field_label('owner_id')}：请选择列表中的用户"
        out["owner_id"] = int(raw) if raw.isdigit() and len(raw) < 10 else None
    return out, errors


def collect_errors(values: Mapping[str, Any], taxonomy: Taxonomy) -> dict[str, str]:
    """Every field's first error (Chinese, naming the field and the rule), by field name.

    The model stops at the first error; a field that failed is left out and the values checked
    again, until they pass or a required field is missing. The model checks formats before
    presence, so at that point the other missing required fields are added as well.
    """
    remaining = {k: v for k, v in values.items() if k in _MODEL_FIELDS}
    errors: dict[str, str] = {}
    for _ in range(len(remaining) + 1):
        try:
            validate_customer_values(remaining, taxonomy=taxonomy)
            return errors
        except ValidationError as e:
            if e.field in errors or e.reason == "required":
                errors.setdefault(e.field, _labelled(e))
                break
            errors[e.field] = _labelled(e)
            remaining[e.field] = None
    status = remaining.get("status") or CustomerStatus.PROSPECT.value
    for name in required_fields({**remaining, "status": status}, from_document=False):
        if name not in errors and remaining.get(name) in (None, "", []):
            errors[name] = f"{field_label(name)}不能为空"
    return errors


def _labelled(error: ValidationError) -> str:
    """The error's message, with a raw field name (``owner_id不能为空``) given its label."""
    if error.message.startswith(error.field):
        return field_label(error.field) + error.message[len(error.field) :]
    return error.message


_MODEL_FIELDS = frozenset(n for group in GROUPS.values() for n in group if n not in NOT_IN_FORM)


# --- the form ---------------------------------------------------------------------------------


def _choices(name: str, taxonomy: Taxonomy, owners: Sequence[User]) -> list[tuple[str, str]]:
    kind = KINDS.get(name)
    if kind == "customer_type":
        return [(ct.code, ct.label) for ct in taxonomy.customer_types]
    if kind == "status":
        return [(s, taxonomy.customer_status_label(s)) for s in CUSTOMER_STATUS_VALUES]
    if kind == "satisfaction":
        return [(s, f"{s} 分") for s in SATISFACTION]
    if kind == "owner":
        return [(str(u.id), u.display_name or u.username) for u in owners]
    return [(o, o) for o in taxonomy.options.get(OPTION_SOURCE.get(name, ""), ())]


def _with_current(choices: list[tuple[str, str]], value: Any) -> list[tuple[str, str]]:
    """Keep a stored value that is no longer in the option list, so saving never drops it."""
    known = {c for c, _ in choices}
    extra = [value] if isinstance(value, str) else list(value or [])
    return choices + [(v, v) for v in extra if v and v not in known]


def _input(
    name: str,
    *,
    value: Any,
    error: str | None,
    taxonomy: Taxonomy,
    owners: Sequence[User],
    placeholder: str = "",
) -> dict[str, Any]:
    kind = "date" if name in DATE_FIELDS else KINDS.get(name)
    if kind is None:
        kind = "select" if name in OPTION_SOURCE else "text"
    has_choices = kind in ("select", "multi", "customer_type", "status", "satisfaction", "owner")
    choices = _with_current(_choices(name, taxonomy, owners), value) if has_choices else []
    return {
        "name": name,
        "label": field_label(name),
        "kind": kind,
        "value": value,
        "choices": choices,
        "error": error,
        "placeholder": placeholder,
        "only": KIND_ONLY.get(name, ""),
        "hint": "已隐藏完整号码，留空则保持不变" if placeholder else HINTS.get(name, ""),
    }


def form_groups(
    *,
    names: Sequence[str],
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    taxonomy: Taxonomy,
    owners: Sequence[User],
    masked: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The form's inputs per field group, each with its value, choices and error."""
    masked = masked or {}
    groups = []
    for key, fields in GROUPS.items():
        inputs = []
        for name in fields:
            if name not in names:
                continue
            placeholder = f"已隐藏：{masked[name]}" if name in masked else ""
            inputs.append(
                _input(
                    name,
                    value=values.get(name, ""),
                    error=errors.get(name),
                    taxonomy=taxonomy,
                    owners=owners,
                    placeholder=placeholder,
                )
            )
        if inputs:
            groups.append({"key": key, "label": GROUP_LABELS[key], "fields": inputs})
    return groups


def masked_values(customer: Customer, *, unmask: bool) -> dict[str, str]:
    """Stored values a viewer may not see in full, masked (empty when ``unmask``)."""
    if unmask:
        return {}
    out = {}
    for name, mask in (("id_number", mask_id_number), ("phone", mask_phone)):
        value = getattr(customer, name)
        if value:
            out[name] = mask(value)
    return out


def original_json(customer: Customer, masked: Mapping[str, str]) -> str:
    """The values an edit starts from, for the form's hidden ``original`` field.

    Masked values are left out (the viewer may not see them). Only used to show and merge
    what someone else changed when the edit turns out stale; never written.
    """
    values = {k: v for k, v in stored_values(customer).items() if k not in masked}
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def parse_original(text: str | None) -> dict[str, Any] | None:
    """The hidden ``original`` field back as values (None when missing or malformed)."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): v for k, v in data.items() if isinstance(v, str | list)}


def _same(a: Any, b: Any) -> bool:
    return (a or None) == (b or None)


def merge_stale(
    mine: Mapping[str, Any],
    original: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    names: Sequence[str],
    masked: Mapping[str, str],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Merge a stale edit with what was saved meanwhile, field by field.

    A field only the other editor changed takes their value; one only this user changed keeps
    the input; one both changed differently keeps the input and is marked as a conflict.
    Without the original values every field that differs is shown as a conflict.

    Returns:
        The values for the form, and rows (label, theirs, mine, conflict) for the fields the
        other editor changed.
    """
    merged = dict(mine)
    rows = []
    for name in names:
        if name in masked:
            continue
        theirs, own = current.get(name, ""), mine.get(name, "")
        base = original.get(name, "") if original is not None else None
        if original is not None and _same(theirs, base):
            continue  # the other editor left it alone
        if original is not None and _same(own, base):
            merged[name] = theirs
        elif _same(own, theirs):
            continue
        conflict = not _same(merged[name], theirs)
        rows.append(
            {
                "label": field_label(name),
                "theirs": _shown(theirs),
                "mine": _shown(own),
                "conflict": conflict,
            }
        )
    return merged, rows


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(value)
    return str(value or "")


# --- the page ---------------------------------------------------------------------------------


def _display(
    name: str, customer: Customer, *, taxonomy: Taxonomy, owner_names: Mapping[int, str]
) -> str:
    value = getattr(customer, name)
    if value is None or value == []:
        return ""
    if name == "customer_type":
        return next((ct.label for ct in taxonomy.customer_types if ct.code == value), value)
    if name == "status":
        return taxonomy.customer_status_label(value)
    if name == "owner_id":
        return owner_names.get(value, f"用户 {value}")
    if name == "cumulative_amount":
        return f"{value:,.2f} 元"
    if name == "satisfaction":
        return f"{value} 分"
    if isinstance(value, datetime):
        return local_time(value)
    return _shown(_as_text(value))


def display_groups(
    customer: Customer, *, taxonomy: Taxonomy, owner_names: Mapping[int, str], unmask: bool
) -> list[dict[str, Any]]:
    """Every field group of the standard with its labelled values (empty ones shown as such)."""
    masked = masked_values(customer, unmask=unmask)
    groups = []
    for key, fields in GROUPS.items():
        rows = []
        for name in fields:
            if not applies(name, customer):
                continue
            value = masked.get(name) or _display(
                name, customer, taxonomy=taxonomy, owner_names=owner_names
            )
            rows.append({"name": name, "label": field_label(name), "value": value})
        groups.append({"key": key, "label": GROUP_LABELS[key], "rows": rows})
    return groups
