"""Presentation helpers: turn records into what templates show (labels, masked values, rows).

No business rules and no database writes; only formatting.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from config.clock import CHINA_TZ
from config.taxonomy import Taxonomy
from models.user import User
from models.validation import field_label, mask_id_number

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

LOW_CONFIDENCE = 0.6
SENSITIVE_FIELDS = frozenset({"id_number"})


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the helpers every page needs."""
    taxonomy: Taxonomy = request.app.state.context.taxonomy
    base = {
        "taxonomy": taxonomy,
        "role_label": lambda code: taxonomy.roles.get(code, code),
        "reason_label": lambda code: reason_label(taxonomy, code),
        "user": None,
        "flash": request.session.pop("flash", None),
        "flash_kind": request.session.pop("flash_kind", "ok"),
    }
    base.update(context)
    return request.app.state.templates.TemplateResponse(
        request, name, base, status_code=status_code
    )


def reason_label(taxonomy: Taxonomy, code: str) -> str:
    """A Chinese label for a document-level or field-level reason code."""
    label = taxonomy.review_reasons.get(code)
    return label or FIELD_REASON_LABELS.get(code, code)


def local_time(value: datetime | None) -> str:
    """A timestamp in China time, ``YYYY-MM-DD HH:MM``."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _field_reasons(raw: Mapping[str, Any]) -> list[str]:
    reasons = list(raw.get("reasons") or [])
    if raw.get("reason"):
        reasons.append(str(raw["reason"]))
    confidence = raw.get("confidence")
    if isinstance(confidence, int | float) and confidence < LOW_CONFIDENCE:
        reasons.append("low_confidence")
    return list(dict.fromkeys(reasons))


def field_rows(
    fields: Mapping[str, Any], *, taxonomy: Taxonomy, unmask: bool
) -> list[dict[str, Any]]:
    """Extracted fields as rows for the document page, doubtful ones flagged with labels.

    Bookkeeping keys (``_...``) are skipped; ID numbers are masked unless ``unmask``.
    """
    rows = []
    for name, raw in fields.items():
        if name.startswith("_"):
            continue
        info = raw if isinstance(raw, Mapping) else {"value": raw}
        value = "" if info.get("value") is None else str(info.get("value"))
        if name in SENSITIVE_FIELDS and value and not unmask:
            value = mask_id_number(value)
        reasons = _field_reasons(info)
        rows.append(
            {
                "name": name,
                "label": field_label(name),
                "value": value,
                "confidence": info.get("confidence"),
                "doubtful": bool(reasons),
                "reasons": [reason_label(taxonomy, r) for r in reasons],
            }
        )
    return rows


def may_unmask(user: User) -> bool:
    """Reviewers and admins see full values on the document page (they verify them)."""
    return user.role in ("reviewer", "admin")
