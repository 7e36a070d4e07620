"""One customer's page (``/customers/{code}``): its field groups, documents and sections.

Shared by the page itself and by every section form that has to be shown again with the
user's input and the Chinese errors beside the fields (status 422).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session, select

from app.context import AppContext
from archive.customer_documents import document_overview
from models import repo
from models.customer import Customer
from models.user import User
from web.customer_form import display_groups
from web.customer_sections import SectionForm, inputs, sections
from web.views import may_unmask, render


def owner_names(db: Session) -> dict[int, str]:
    users = db.exec(select(User)).all()
    return {u.id: u.display_name or u.username for u in users if u.id is not None}


def customer_response(
    request: Request,
    *,
    db: Session,
    user: User,
    ctx: AppContext,
    customer: Customer,
    status: int = 200,
    form: SectionForm | None = None,
) -> Response:
    """The page of ``customer`` (visible to ``user``), with ``form`` shown again if given."""
    taxonomy = ctx.taxonomy
    unmask = may_unmask(user)
    overview = document_overview(
        db, customer=customer, taxonomy=taxonomy, warning_days=ctx.settings.expiry_warning_days
    )
    form = form or SectionForm(key="")

    offered = repo.options_in_effect(db, taxonomy)  # the option lists as admins edited them

    def form_inputs(part: str, key: str, values: dict | None = None) -> list[dict]:
        shown = form.values if form.key == key else (values or {})
        return inputs(part, offered, shown)

    return render(
        request,
        "customer.html",
        status_code=status,
        user=user,
        customer=customer,
        type_label=next(
            (t.label for t in taxonomy.customer_types if t.code == customer.customer_type),
            customer.customer_type,
        ),
        status_label=taxonomy.customer_status_label(customer.status),
        groups=display_groups(
            customer, taxonomy=taxonomy, owner_names=owner_names(db), unmask=unmask
        ),
        overview=overview,
        doc_type_label=lambda c: taxonomy.document_type(c).label,
        doc_status_label=taxonomy.document_status_label,
        warning_days=ctx.settings.expiry_warning_days,
        form=form,
        form_inputs=form_inputs,
        **sections(db, ctx.settings, user, customer, unmask=unmask),
    )
