"""The tag vocabulary page (``/tags``): admins add, rename, merge and retire tags; reviewers
and admins read the tag report (tags used by under 5% of customers, tags that contradict a
customer's fields). Every change goes through :mod:`archive.tags` (permissions and audit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from archive import tags
from archive.permissions import Action, can
from models.customer_fields import label as field_label
from models.errors import ValidationError
from models.user import User
from web.deps import Context, CurrentUser, DbSession
from web.views import form_change, render

router = APIRouter()


def _page(
    request: Request,
    *,
    db: Session,
    user: User,
    ctx: Context,
    status: int = 200,
    error: str | None = None,
    action: str = "",
    values: dict[str, str] | None = None,
) -> Response:
    report = tags.tag_report(db, ctx.settings, user)  # sales users: 403
    return render(
        request,
        "tags.html",
        status_code=status,
        user=user,
        tags=tags.list_tags(db, include_retired=True),
        report=report,
        manage=can(user, Action.MANAGE_TAXONOMY),
        field_label=field_label,
        error=error,
        action=action,
        values=values or {},
    )


@router.get("/tags")
def tags_page(request: Request, db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    return _page(request, db=db, user=user, ctx=ctx)


def _change(
    request: Request,
    *,
    db: Session,
    user: User,
    ctx: Context,
    action: str,
    values: dict[str, str],
    work: Callable[[], str],
) -> Response:
    """Run an admin's change and commit; the page again (422/409) with the Chinese error."""
    return form_change(
        request, db, work, redirect_to="/tags",
        show_error=lambda e, status: _page(
            request, db=db, user=user, ctx=ctx, status=status, error=e.message,  # type: ignore[attr-defined]
            action=action, values=values,
        ),
    )  # fmt: skip


Text = Annotated[str, Form()]


@router.post("/tags")
def add_tag(request: Request, db: DbSession, user: CurrentUser, ctx: Context,
            name: Text = "", description: Text = "") -> Response:  # fmt: skip
    def work() -> str:
        tag = tags.add_tag(db, user, name, description.strip() or None)
        return f"已添加标签 {tag.name}"

    values = {"name": name, "description": description}
    return _change(request, db=db, user=user, ctx=ctx, action="add", values=values, work=work)


@router.post("/tags/rename")
def rename_tag(request: Request, db: DbSession, user: CurrentUser, ctx: Context,
               name: Text = "", new_name: Text = "") -> Response:  # fmt: skip
    def work() -> str:
        tag = tags.rename_tag(db, user, name, new_name)
        return f"已将标签 {name} 改名为 {tag.name}"

    values = {"name": name, "new_name": new_name}
    return _change(request, db=db, user=user, ctx=ctx, action="rename", values=values, work=work)


@router.post("/tags/merge")
def merge_tag(request: Request, db: DbSession, user: CurrentUser, ctx: Context,
              source: Text = "", target: Text = "") -> Response:  # fmt: skip
    def work() -> str:
        if source.strip() == target.strip():
            raise ValidationError("合并标签：请选择两个不同的标签", field="target",
                                  reason="same_tag")  # fmt: skip
        kept, moved = tags.merge_tags(db, user, source, target)
        return f"已将标签 {source} 并入 {kept.name}（{moved} 个客户）"

    values = {"source": source, "target": target}
    return _change(request, db=db, user=user, ctx=ctx, action="merge", values=values, work=work)


@router.post("/tags/retire")
def retire_tag(request: Request, db: DbSession, user: CurrentUser, ctx: Context,
               name: Text = "", restore: Text = "") -> Response:  # fmt: skip
    def work() -> str:
        tag = tags.retire_tag(db, user, name, retired=not restore)
        return f"已恢复标签 {tag.name}" if restore else f"已停用标签 {tag.name}"

    return _change(request, db=db, user=user, ctx=ctx, action="retire", values={}, work=work)
