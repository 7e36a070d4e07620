"""The option lists page (``/options``, admins): add, rename, retire and restore the options of
所属行业, 客户来源 and the other lists the forms offer. Every change goes through
:mod:`archive.option_lists` (permissions and audit); a refused one shows the page again with the
Chinese error beside the list it was meant for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from archive import option_lists
from models.errors import NotFoundError
from models.user import User
from web.deps import Context, CurrentUser, DbSession
from web.views import form_change, render

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

    def show_error(e: Exception, status: int) -> Response:
        if isinstance(e, NotFoundError) and values.get("list") not in option_lists.EDITABLE_LISTS:
            raise e
        return _page(request, db=db, user=user, ctx=ctx, status=status,
                     error=e.message, values=values)  # type: ignore[attr-defined]  # fmt: skip

    redirect_to = f"/options#list-{values.get('list', '')}"
    return form_change(request, db, work, redirect_to=redirect_to, show_error=show_error)


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
