"""The sections of a customer's page: contacts, follow-ups, cooperation records, tags, the level
override and (admins) merging a duplicate into this customer.

Every form posts here (with its CSRF token) and calls the archive function that owns the
change; permissions are theirs (a sales user reaches only their own customers: 404 otherwise).
A refused value shows the page again (422) with the input kept and the Chinese error beside
the field it names; success comes back to the page with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from archive import contacts, cooperations, followups, tags
from archive import customers as service
from archive.customer_merge import merge_customers
from models.customer import Customer
from models.errors import ConflictError, NotFoundError, ValidationError
from models.user import User
from web.customer_page import customer_response
from web.customer_sections import SectionForm, contact_changes, submitted
from web.deps import Context, CurrentUser, DbSession
from web.params import MAX_ID
from web.views import may_unmask

router = APIRouter()


def _flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session["flash"] = message
    request.session["flash_kind"] = kind


def _apply(
    request: Request,
    *,
    db: Session,
    user: User,
    ctx: Context,
    code: str,
    form: SectionForm,
    work: Callable[[Customer], str],
    anchor: str,
) -> Response:
    """Run ``work`` on the visible customer ``code`` and commit; back to the page with its
    message, or the page again (422, 409 for a stale version) with ``form``'s error."""
    customer = service.get_visible(db, user, code)  # another owner's customer: 404
    try:
        message = work(customer)
        db.commit()
    except (ValidationError, ConflictError) as e:
        db.rollback()
        form.errors = {e.field or "form": e.message}
        stale = isinstance(e, ConflictError) and e.field == "version"
        customer = service.get_visible(db, user, code)
        return customer_response(
            request,
            db=db,
            user=user,
            ctx=ctx,
            customer=customer,
            status=409 if stale else 422,
            form=form,
        )
    _flash(request, message)
    return RedirectResponse(f"/customers/{customer.code}#{anchor}", status_code=303)


def _contact_of(db: Session, user: User, code: str, contact_id: int) -> int:
    """``contact_id`` if it is a contact of customer ``code`` visible to ``user`` (else 404)."""
    if not 1 <= contact_id <= MAX_ID:
        raise NotFoundError(f"联系人 #{contact_id} 不存在", contact_id=contact_id)
    _contact, customer = contacts.get_contact(db, user, contact_id)
    if customer.code != code.strip().upper():
        raise NotFoundError(f"联系人 #{contact_id} 不存在", contact_id=contact_id)
    return contact_id


# --- contacts ---------------------------------------------------------------------------------


@router.post("/customers/{code}/contacts")
async def add_contact(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    values = submitted("contact", await request.form())

    def work(customer: Customer) -> str:
        contact = contacts.add_contact(db, ctx.settings, user, customer.code, values)
        return f"已添加联系人 {contact.name}"

    form = SectionForm("contact-new", values)
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="contacts"
    )


@router.post("/customers/{code}/contacts/{contact_id}")
async def edit_contact(
    request: Request, code: str, contact_id: int, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    contact_id = _contact_of(db, user, code, contact_id)
    values = submitted("contact", await request.form())
    changes = contact_changes(values, masked=not may_unmask(user))

    def work(customer: Customer) -> str:
        contact = contacts.edit_contact(db, ctx.settings, user, contact_id, changes)
        return f"已保存联系人 {contact.name}"

    form = SectionForm(f"contact-{contact_id}", values)
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="contacts"
    )


@router.post("/customers/{code}/contacts/{contact_id}/remove")
def remove_contact(
    request: Request, code: str, contact_id: int, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    contact_id = _contact_of(db, user, code, contact_id)

    def work(customer: Customer) -> str:
        return f"已删除联系人 {contacts.remove_contact(db, user, contact_id).name}"

    form = SectionForm(f"contact-{contact_id}")
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="contacts"
    )


# --- follow-ups and cooperation records -------------------------------------------------------


@router.post("/customers/{code}/follow-ups")
async def add_follow_up(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    values = submitted("follow_up", await request.form())
    given = {k: v for k, v in values.items() if v != ""}

    def work(customer: Customer) -> str:
        followups.add_follow_up(db, ctx.settings, user, customer.code, given)
        return "已添加跟进记录"

    form = SectionForm("follow_up", values)
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="follow-ups"
    )


@router.post("/customers/{code}/cooperations")
async def add_cooperation(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    values = submitted("cooperation", await request.form())
    given = {k: v for k, v in values.items() if v != ""}

    def work(customer: Customer) -> str:
        record, _customer = cooperations.add_cooperation(
            db, ctx.settings, user, customer.code, given
        )
        return f"已添加合作记录 {record.name}"

    form = SectionForm("cooperation", values)
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="cooperations"
    )


def _cooperation_of(db: Session, user: User, code: str, cooperation_id: int) -> int:
    """``cooperation_id`` if it is a record of customer ``code`` visible to ``user`` (else 404)."""
    if not 1 <= cooperation_id <= MAX_ID:
        raise NotFoundError(f"合作记录 #{cooperation_id} 不存在", cooperation_id=cooperation_id)
    _record, customer = cooperations.get_cooperation(db, user, cooperation_id)
    if customer.code != code.strip().upper():
        raise NotFoundError(f"合作记录 #{cooperation_id} 不存在", cooperation_id=cooperation_id)
    return cooperation_id


@router.post("/customers/{code}/cooperations/{cooperation_id}")
async def edit_cooperation(
    request: Request,
    code: str,
    cooperation_id: int,
    db: DbSession,
    user: CurrentUser,
    ctx: Context,
) -> Response:
    cooperation_id = _cooperation_of(db, user, code, cooperation_id)
    values = submitted("cooperation", await request.form())

    def work(customer: Customer) -> str:
        record, _customer = cooperations.edit_cooperation(
            db, ctx.settings, user, cooperation_id, values
        )
        return f"已保存合作记录 {record.name}"

    form = SectionForm(f"cooperation-{cooperation_id}", values)
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="cooperations"
    )


@router.post("/customers/{code}/cooperations/{cooperation_id}/remove")
def remove_cooperation(
    request: Request,
    code: str,
    cooperation_id: int,
    db: DbSession,
    user: CurrentUser,
    ctx: Context,
) -> Response:
    cooperation_id = _cooperation_of(db, user, code, cooperation_id)

    def work(customer: Customer) -> str:
        record, _customer = cooperations.remove_cooperation(db, ctx.settings, user, cooperation_id)
        return f"已删除合作记录 {record.name}"

    form = SectionForm(f"cooperation-{cooperation_id}")
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="cooperations"
    )


# --- tags and level ---------------------------------------------------------------------------


def _tag_names(form: Any) -> list[str]:
    return [str(v).strip() for v in form.getlist("tag") if str(v).strip()]


@router.post("/customers/{code}/tags")
async def add_tags(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    names = _tag_names(await request.form())

    def work(customer: Customer) -> str:
        if not names:
            raise ValidationError("标签：请选择要添加的标签", field="tags", reason="required")
        added = tags.tag_customer(db, user, customer.code, names)
        return f"已添加标签：{'、'.join(added)}" if added else "标签已存在，没有变化"

    form = SectionForm("tags", {"tag": names})
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="tags"
    )


@router.post("/customers/{code}/tags/remove")
async def remove_tags(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    names = _tag_names(await request.form())

    def work(customer: Customer) -> str:
        removed = tags.untag_customer(db, user, customer.code, names)
        return f"已移除标签：{'、'.join(removed)}" if removed else "没有需要移除的标签"

    form = SectionForm("tags", {"tag": names})
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="tags"
    )


@router.post("/customers/{code}/level")
async def set_level(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    data = await request.form()
    values = {k: str(data.get(k) or "").strip() for k in ("level", "level_reason")}
    version = str(data.get("version") or "")

    def work(customer: Customer) -> str:
        before = customer.level
        saved = service.edit_customer(
            db,
            ctx.settings,
            user,
            customer.code,
            dict(values),
            version=int(version) if version.isdigit() and len(version) < 10 else 0,
        )
        if saved.level == before and "level" not in (saved.manual_fields or ()):
            return f"客户等级为 {saved.level or '未设置'}（随价值层级）"
        return f"客户等级已设为 {saved.level or '未设置'}"

    form = SectionForm("level", values)
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="level"
    )


# --- merge a duplicate (admins) ---------------------------------------------------------------


@router.post("/customers/{code}/merge")
async def merge_duplicate(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    duplicate = str((await request.form()).get("remove") or "").strip().upper()

    def work(customer: Customer) -> str:
        if not duplicate:
            raise ValidationError("合并客户：请选择要并入的重复客户", field="remove",
                                  reason="required")  # fmt: skip
        result = merge_customers(
            db, ctx.store, ctx.settings, user, keep=customer.code, remove=duplicate
        )
        moved = result.moved
        message = (
            f"已将 {result.removed_code} 合并到 {result.kept.code}："
            f"资料 {len(moved.documents)} 份、联系人 {len(moved.contacts)} 个、"
            f"跟进记录 {len(moved.follow_ups)} 条、"
            f"合作记录 {len(moved.cooperations)} 条"
        )
        if result.refile_failed:
            message += f"；{len(result.refile_failed)} 份资料未能移动存储位置，请运行完整性检查"
        return message

    form = SectionForm("merge", {"remove": duplicate})
    return _apply(
        request, db=db, user=user, ctx=ctx, code=code, form=form, work=work, anchor="merge"
    )
