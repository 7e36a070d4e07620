"""The option lists page (``/options``, admins): add, rename, retire and restore the options of
所属行业, 客户来源 and the other lists the forms offer. Every change goes through
:mod:`archive.option_lists` (permissions and audit); a refused one shows the page again with the
Chinese error beside the list it was meant for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from archive import option_lists
from models.errors import ConflictError, NotFoundError, ValidationError
from models.user import User
from web.deps import Context, CurrentUser, DbSession
from web.views import render

router = APIRouter()
Text = Annotated[str, Form()]


def _page(
    request: Request,
    *,
    db: Session,
    user: User,
    ctx: Context,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    lists = option_lists.option_lists(db, ctx.settings, user)  # not an admin: 403
    return render(
        request,
        "options.html",
        status_code=status,
        user=user,
        lists=lists,
        error=error,
        values=values or {},
    )


@router.get("/options")
def options_page(request: Request, db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    return _page(request, db=db, user=user, ctx=ctx)


def _change(
    request: Request,
    *,
    db: Session,
    user: User,
    ctx: Context,
    values: dict[str, str],
    work: Callable[[], str],
) -> Response:
    """Run an admin's change and commit; the page again (422/409) with the Chinese error."""
    try:
        message = work()
        db.commit()
    except (ValidationError, ConflictError, NotFoundError) as e:
        db.rollback()
        status = 409 if isinstance(e, ConflictError) else 422
        if isinstance(e, NotFoundError) and values.get("list") not in option_lists.EDITABLE_LISTS:
            raise
        return _page(request, db=db, user=user, ctx=ctx, status=status, error=e.message,
                     values=values)  # fmt: skip
    request.session["flash"], request.session["flash_kind"] = message, "ok"
    return RedirectResponse(f"/options#list-{values.get('list', '')}", status_code=303)


def _label(key: str) -> str:
    return option_lists.EDITABLE_LISTS.get(key, key)


@router.post("/options/{key}")
def add_option(request: Request, key: str, db: DbSession, user: CurrentUser, ctx: Context,
               value: Text = "") -> Response:  # fmt: skip
    def work() -> str:
        item = option_lists.add_option(db, ctx.settings, user, key, value)
        return f"已在“{_label(key)}”中添加选项 {item.value}"

    values = {"list": key, "action": "add", "value": value}
    return _change(request, db=db, user=user, ctx=ctx, values=values, work=work)


@router.post("/options/{key}/rename")
def rename_option(request: Request, key: str, db: DbSession, user: CurrentUser, ctx: Context,
                  value: Text = "", new_value: Text = "") -> Response:  # fmt: skip
    def work() -> str:
        item, changed = option_lists.rename_option(db, ctx.settings, user, key, value, new_value)
        return f"已将“{_label(key)}”的选项 {value} 改名为 {item.value}（{changed} 条记录随之更新）"

    values = {"list": key, "action": "rename", "value": value, "new_value": new_value}
    return _change(request, db=db, user=user, ctx=ctx, values=values, work=work)


@router.post("/options/{key}/retire")
def retire_option(request: Request, key: str, db: DbSession, user: CurrentUser, ctx: Context,
                  value: Text = "", restore: Text = "") -> Response:  # fmt: skip
    def work() -> str:
        item = option_lists.retire_option(db, ctx.settings, user, key, value, retired=not restore)
        if restore:
            return f"已恢复“{_label(key)}”的选项 {item.value}"
        return f"已停用“{_label(key)}”的选项 {item.value}（已有记录保留该值，新记录不再可选）"

    values = {"list": key, "action": "retire", "value": value}
    return _change(request, db=db, user=user, ctx=ctx, values=values, work=work)
