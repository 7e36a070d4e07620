"""``/api/v1/customers``: list, one record, create, and update with ``If-Match``.

Each customer record carries its version as a strong ``ETag`` (``"v<version>"``). An update
(``PATCH``) must send that value as ``If-Match``: a version that is no longer current is 412
(someone saved in between; read again), none is 428. A save racing another one after the check
is refused by ``archive.customers.edit_customer`` as 409, like a duplicate USCC or ID number.
A value that breaks a rule is 422 with ``field``, ``rule`` and a Chinese ``message``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import JSONResponse

from app.records import customer_record, record_unmasked
from archive import customers as customer_service
from archive.api_lists import customer_page
from archive.customer_query import CustomerFilter
from archive.permissions import Action, require
from config.settings import Settings
from models.customer import Customer
from web.api.deps import API_PREFIX, ApiUser
from web.api.documents import Cursor, Limit, Unmask, page_body
from web.deps import Context, DbSession
from web.errors import PreconditionFailedError, PreconditionRequiredError

router = APIRouter(tags=["customers"])

CustomerBody = Annotated[
    dict[str, Any],
    Body(description="客户档案字段（英文字段名，如 name、customer_type、uscc、phone）"),
]


def etag(customer: Customer) -> str:
    """The customer's version as a strong entity tag."""
    return f'"v{customer.version}"'


def _response(
    customer: Customer,
    settings: Settings,
    *,
    status: int = 200,
    extra: dict[str, Any] | None = None,
    unmask: bool = False,
) -> JSONResponse:
    body = customer_record(customer, taxonomy=settings.taxonomy, unmask=unmask)
    body["version"] = customer.version
    headers = {"ETag": etag(customer)}
    if status == 201:
        headers["Location"] = f"{API_PREFIX}/customers/{customer.code}"
    return JSONResponse({**body, **(extra or {})}, status_code=status, headers=headers)


@router.get("/customers", summary="客户列表（筛选、游标分页）")
def list_customers(
    db: DbSession,
    user: ApiUser,
    ctx: Context,
    status: str | None = None,
    customer_type: str | None = None,
    industry: str | None = None,
    level: str | None = None,
    value_tier: str | None = None,
    region: str | None = None,
    tag: Annotated[list[str] | None, Query(description="标签（可多个，须全部具备）")] = None,
    name: Annotated[str | None, Query(description="名称、编号、信用代码、联系人或电话包含")] = None,
    expiring: Annotated[bool, Query(description="有已过期或即将过期的资料")] = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    require(user, Action.VIEW)
    where = CustomerFilter(
        tags=tuple(tag or ()),
        status=status,
        customer_type=customer_type,
        industry=industry,
        level=level,
        value_tier=value_tier,
        region=region,
        text=name,
        expiring=expiring,
    )
    rows, next_cursor = customer_page(
        db,
        user,
        where,
        taxonomy=ctx.taxonomy,
        after=cursor,
        limit=limit,
        warning_days=ctx.settings.expiry_warning_days,
    )
    items = [{**customer_record(c, taxonomy=ctx.taxonomy), "version": c.version} for c in rows]
    return page_body(items, next_cursor)


@router.get("/customers/{code}", summary="一个客户（ETag 为其版本）")
def get_customer(
    code: str, db: DbSession, user: ApiUser, ctx: Context, unmask: Unmask = False
) -> JSONResponse:
    customer = customer_service.get_visible(db, user, code)
    if unmask:
        require(user, Action.REVIEW)
        record_unmasked(db, actor=user.username, entity_type="customer", entity_id=code)
        db.commit()
    return _response(customer, ctx.settings, unmask=unmask)


@router.post("/customers", status_code=201, summary="新建客户")
def create_customer(
    values: CustomerBody, db: DbSession, user: ApiUser, ctx: Context
) -> JSONResponse:
    customer, similar = customer_service.create_customer(db, ctx.settings, user, values)
    db.commit()
    warnings = [{"code": c.code, "name": c.name} for c in similar]
    return _response(customer, ctx.settings, status=201, extra={"similar_customers": warnings})


def _version_of(if_match: str | None, customer: Customer) -> int:
    """The version ``If-Match`` names; 428 without one, 412 when it is not the current one."""
    if not if_match or not if_match.strip():
        raise PreconditionRequiredError(
            "修改客户须在 If-Match 中给出读取时的 ETag", field="If-Match"
        )
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" in tags or etag(customer) in tags:
        return customer.version
    raise PreconditionFailedError(
        f"客户 {customer.code} 已被修改（当前版本 {customer.version}），请重新读取后再修改",
        field="If-Match",
        current=etag(customer),
    )


@router.patch("/customers/{code}", summary="修改客户（须带 If-Match）")
def update_customer(
    code: str,
    changes: CustomerBody,
    db: DbSession,
    user: ApiUser,
    ctx: Context,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> JSONResponse:
    customer = customer_service.get_visible(db, user, code)
    version = _version_of(if_match, customer)
    updated = customer_service.edit_customer(db, ctx.settings, user, code, changes, version=version)
    db.commit()
    return _response(updated, ctx.settings)
