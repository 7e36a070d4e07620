"""Presentation helpers: turn records into what templates show (labels, masked values, rows).

No business rules and no database writes; only formatting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from config.taxonomy import Taxonomy
from models.errors import ConflictError, NotFoundError, ValidationError
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


#: The errors a form's change ends in that show the form again with their Chinese message.
FORM_ERRORS = (ValidationError, ConflictError, NotFoundError)


def form_change(
    request: Request,
    db: Session,
    work: Callable[[], str],
    *,
    redirect_to: str,
    show_error: Callable[[Exception, int], Response],
) -> Response:
    """Run a form's change and commit: then flash its message and redirect (303); on a rule
    error roll back and ``show_error(error, status)`` (409 for a conflict, else 422)."""
    try:
        message = work()
        db.commit()
    except FORM_ERRORS as e:
        db.rollback()
        return show_error(e, 409 if isinstance(e, ConflictError) else 422)
    request.session["flash"], request.session["flash_kind"] = message, "ok"
    return RedirectResponse(redirect_to, status_code=303)
