"""Presentation helpers: turn records into what templates show (labels, masked values, rows).

No business rules and no database writes; only formatting.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from config.taxonomy import Taxonomy
from models.user import User
from web.field_view import FIELD_REASON_LABELS, field_rows, reason_label
from web.formatting import install_filters, local_time

__all__ = [
    "FIELD_REASON_LABELS",
    "field_rows",
    "local_time",
    "may_unmask",
    "reason_label",
    "render",
]


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
    templates = request.app.state.templates
    install_filters(templates.env)
    return templates.TemplateResponse(request, name, base, status_code=status_code)


def may_unmask(user: User) -> bool:
    """Reviewers and admins see full values on the document page (they verify them)."""
    return user.role in ("reviewer", "admin")
