"""The customer file on the web: the list (客户列表), one customer's page, create and edit forms.

Permissions and concurrency are the service's (:mod:`archive.customers`): a sales user sees
and edits only their own customers (404 otherwise) and cannot change the owner; an edit names
the version it started from, and a stale one is shown again with the user's input kept and the
fields that changed meanwhile.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select

from archive import customers as service
from archive.customer_documents import document_summaries
from archive.customer_query import CustomerFilter, list_customers
from archive.permissions import sees_everything
from archive.tags import tag_names
from archive.tiers import tier_thresholds
from models import repo
from models.customer import Customer
from models.errors import ConflictError, ValidationError
from models.user import User
from web.customer_form import (
    collect_errors,
    form_field_names,
    form_groups,
    masked_values,
    merge_stale,
    original_json,
    parse_original,
    service_values,
    stored_values,
    submitted_values,
)
from web.customer_page import customer_response, owner_names
from web.deps import Context, CurrentUser, DbSession
from web.exchange_view import may_export_full
from web.params import MAX_ID
from web.views import local_time, may_unmask, render

router = APIRouter()

PAGE_SIZE = 30
#: Query-string parameter -> the list's filter (``CustomerFilter`` field); ``tag`` may repeat.
FILTER_PARAMS = {
    "q": "text",
    "type": "customer_type",
    "status": "status",
    "industry": "industry",
    "level": "level",
    "tier": "value_tier",
    "region": "region",
    "owner": "owner_id",
    "complete": "complete",
    "expiring": "expiring",
}
DEFAULT_SORT = "-updated_at"
SORT_LABELS = {
    "-updated_at": "最近更新",
    "updated_at": "最早更新",
    "code": "客户编号",
    "-code": "客户编号（倒序）",
    "name": "客户名称",
    "-cumulative_amount": "累计金额从高到低",
    "cumulative_amount": "累计金额从低到高",
}
MAX_FILTER_TAGS = 5


# --- helpers ----------------------------------------------------------------------------------


def _number(value: str | None, default: int | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 10:
        return default
    number = int(value)
    return number if 1 <= number <= MAX_ID else default


def list_params(request: Request) -> dict[str, Any]:
    """The list's filters as given in the query string (empty ones left out); ``tag`` is a
    list (every tag must be present), ``sort`` one of :data:`SORT_LABELS`."""
    q = request.query_params
    params: dict[str, Any] = {
        p: (q.get(p) or "").strip() for p in FILTER_PARAMS if (q.get(p) or "").strip()
    }
    tags = list(dict.fromkeys(t.strip() for t in q.getlist("tag") if t.strip()))
    if tags:
        params["tag"] = tags[:MAX_FILTER_TAGS]
    sort = (q.get("sort") or "").strip()
    if sort in SORT_LABELS and sort != DEFAULT_SORT:
        params["sort"] = sort
    return params


def customer_filter(params: dict[str, Any], user: User) -> CustomerFilter:
    """The list's filter; a sales user's owner filter is ignored (they see their own)."""
    values: dict[str, Any] = {FILTER_PARAMS[p]: v for p, v in params.items() if p in FILTER_PARAMS}
    values["owner_id"] = _number(params.get("owner"), None) if sees_everything(user) else None
    values["complete"] = {"yes": True, "no": False}.get(params.get("complete", ""))
    values["expiring"] = params.get("expiring") == "yes"
    values["tags"] = tuple(params.get("tag", ()))
    return CustomerFilter(**values)


def _users(db: Session) -> list[User]:
    query = select(User).where(col(User.is_active)).order_by(col(User.username))
    return list(db.exec(query).all())


def _flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session["flash"] = message
    request.session["flash_kind"] = kind


def _row(
    c: Customer, *, ctx: Context, owner_names: dict[int, str], docs: Any, tags: list[str]
) -> dict[str, Any]:
    return {
        "code": c.code,
        "name": c.name,
        "url": f"/customers/{c.code}",
        "type_label": next(
            (t.label for t in ctx.taxonomy.customer_types if t.code == c.customer_type),
            c.customer_type,
        ),
        "status": c.status,
        "status_label": ctx.taxonomy.customer_status_label(c.status),
        "industry": c.industry or "",
        "level": c.level or "",
        "region": c.region or "",
        "tier": c.value_tier or "",
        "tags": tags,
        "contact": c.contact_person or "",
        "owner": owner_names.get(c.owner_id or 0, ""),
        "present": docs.present,
        "required": docs.required,
        "complete": docs.complete,
        "expired": docs.expired,
        "expiring": docs.expiring,
        "updated_at": local_time(c.updated_at),
    }


# --- the list ---------------------------------------------------------------------------------


@router.get("/customers")
def customers_page(request: Request, db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    params = list_params(request)
    page = _number(request.query_params.get("page"), 1) or 1
    error = None
    try:
        customers, total = list_customers(
            db,
            user,
            customer_filter(params, user),
            taxonomy=ctx.taxonomy,
            sort=params.get("sort", DEFAULT_SORT),
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            warning_days=ctx.settings.expiry_warning_days,
        )
    except ValidationError as e:  # a malformed tag name in the address
        customers, total, error = [], 0, e.message
    docs = document_summaries(
        db, customers, taxonomy=ctx.taxonomy, warning_days=ctx.settings.expiry_warning_days
    )
    tags = repo.tag_names_by_customer(db, customer_ids=[c.id for c in customers if c.id])
    names = owner_names(db)

    def page_url(number: int) -> str:
        return "/customers?" + urlencode({**params, "page": number}, doseq=True)

    rows = [
        _row(c, ctx=ctx, owner_names=names, docs=docs[c.id or 0], tags=tags[c.id or 0])
        for c in customers
    ]
    return render(
        request,
        "customers.html",
        user=user,
        params=params,
        page=page,
        pages=max(1, math.ceil(total / PAGE_SIZE)),
        total=total,
        rows=rows,
        error=error,
        owners=_users(db) if sees_everything(user) else [],
        tiers=[name for name, _ in tier_thresholds(ctx.settings)],
        all_tags=tag_names(db, include_retired=True),
        sort_labels=SORT_LABELS,
        # The filters offer retired options too: old records still hold them.
        taxonomy=repo.options_in_effect(db, ctx.taxonomy, include_retired=True),
        default_sort=DEFAULT_SORT,
        page_url=page_url,
        export_query=urlencode(params, doseq=True),
        may_export_full=may_export_full(user),
        filtered=bool(set(params) - {"sort"}),
        more_filters=len(set(params) - {"q"}),
        show_owner=sees_everything(user),
    )


# --- create -----------------------------------------------------------------------------------


def _form_page(
    request: Request,
    *,
    user: User,
    ctx: Context,
    db: Session,
    status: int = 200,
    customer: Customer | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    original: str | None = None,
    **extra: Any,
) -> Response:
    editing = customer is not None
    owner_editable = sees_everything(user)
    masked = masked_values(customer, unmask=may_unmask(user)) if customer else {}
    if values is None:
        values = stored_values(customer) if customer else {"status": "prospect"}
        values = {k: ("" if k in masked else v) for k, v in values.items()}
    groups = form_groups(
        names=form_field_names(editing=editing, owner_editable=owner_editable, customer=customer),
        values=values,
        errors=errors or {},
        taxonomy=repo.options_in_effect(db, ctx.taxonomy),
        owners=_users(db),
        masked=masked,
    )
    return render(
        request,
        "customer_form.html",
        status_code=status,
        user=user,
        customer=customer,
        groups=groups,
        errors=errors or {},
        original=original or (original_json(customer, masked) if customer else ""),
        **extra,
    )


@router.get("/customers/new")
def new_customer_page(request: Request, db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    return _form_page(request, user=user, ctx=ctx, db=db)


@router.post("/customers/new")
async def create_customer(
    request: Request, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    form = await request.form()
    names = form_field_names(editing=False, owner_editable=sees_everything(user))
    values = submitted_values(form, names)
    data, errors = service_values(values)
    owner = {} if sees_everything(user) else {"owner_id": user.id}  # as the service does
    offered = repo.options_in_effect(db, ctx.taxonomy)
    errors = {**collect_errors({**data, **owner}, offered), **errors}
    if not errors:
        try:
            customer, similar = service.create_customer(db, ctx.settings, user, data)
            db.commit()
        except (ValidationError, ConflictError) as e:
            db.rollback()
            errors = {e.field: e.message}
    if errors:
        return _form_page(
            request, user=user, ctx=ctx, db=db, status=422, values=values, errors=errors
        )
    message = f"已创建客户 {customer.code}"
    if similar:
        names_text = "、".join(f"{c.name}（{c.code}）" for c in similar[:5])
        message += f"；注意：名称相近的客户已存在：{names_text}"
    _flash(request, message)
    return RedirectResponse(f"/customers/{customer.code}", status_code=303)


# --- one customer -----------------------------------------------------------------------------


@router.get("/customers/{code}")
def customer_page(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    customer = service.get_visible(db, user, code)
    return customer_response(request, db=db, user=user, ctx=ctx, customer=customer)


@router.get("/customers/{code}/edit")
def edit_customer_page(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    customer = service.get_visible(db, user, code)
    return _form_page(
        request, user=user, ctx=ctx, db=db, customer=customer, version=customer.version
    )


def _changes(form: Any, *, user: User, customer: Customer) -> tuple[dict[str, Any], dict]:
    """The submitted values and the changes for the service (masked boxes left empty: kept)."""
    names = form_field_names(editing=True, owner_editable=sees_everything(user), customer=customer)
    values = submitted_values(form, names)
    if not sees_everything(user) and "owner_id" in form:
        values["owner_id"] = str(form.get("owner_id") or "")  # the service refuses a change
    masked = masked_values(customer, unmask=may_unmask(user))
    stored = stored_values(customer)
    kept = {
        k: v
        for k, v in values.items()
        if not (k in masked and not v) and (v or None) != (stored.get(k) or None)
    }
    return values, kept


@router.post("/customers/{code}/edit")
async def edit_customer(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    form = await request.form()
    customer = service.get_visible(db, user, code)
    values, kept = _changes(form, user=user, customer=customer)
    changes, errors = service_values(kept)
    in_effect = repo.options_in_effect(db, ctx.taxonomy, keep=repo.held_values(customer))
    errors = {**collect_errors({**stored_values(customer), **changes}, in_effect), **errors}
    version = _number(str(form.get("version") or ""), 0) or 0
    if not errors:
        try:
            before = customer.updated_at
            saved = service.edit_customer(db, ctx.settings, user, code, changes, version=version)
            db.commit()
        except ConflictError as e:
            db.rollback()
            if e.field != "version":
                errors = {e.field: e.message}
            else:
                original = parse_original(str(form.get("original") or ""))
                return _stale(
                    request,
                    user=user,
                    ctx=ctx,
                    db=db,
                    code=code,
                    values=values,
                    original=original,
                )
        except ValidationError as e:
            db.rollback()
            errors = {e.field: e.message}
    if errors:
        return _form_page(
            request,
            user=user,
            ctx=ctx,
            db=db,
            status=422,
            customer=customer,
            values=values,
            errors=errors,
            version=version,
            original=str(form.get("original") or ""),
        )
    _flash(request, "修改已保存" if saved.updated_at != before else "没有需要保存的修改")
    return RedirectResponse(f"/customers/{code}", status_code=303)


def _stale(
    request: Request,
    *,
    user: User,
    ctx: Context,
    db: Session,
    code: str,
    values: dict[str, Any],
    original: dict[str, Any] | None,
) -> Response:
    """Someone saved first: their changes are merged into the user's input, which is kept;
    fields both changed are shown side by side."""
    db.expire_all()
    current = service.get_visible(db, user, code)
    masked = masked_values(current, unmask=may_unmask(user))
    names = form_field_names(editing=True, owner_editable=sees_everything(user), customer=current)
    merged, rows = merge_stale(values, original, stored_values(current), names, masked)
    return _form_page(
        request,
        user=user,
        ctx=ctx,
        db=db,
        status=409,
        customer=current,
        values=merged,
        version=current.version,
        conflict=f"客户 {current.code} 已被 {current.updated_by} 修改（版本 {current.version}）",
        conflict_fields=rows,
    )
