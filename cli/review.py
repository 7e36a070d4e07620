"""CLI for the review service, users and the audit trail (thin: parse, call, print).

Exposes ``app`` with the groups ``review`` and ``users`` and the command ``audit``; the main
CLI merges it with ``cli.main``. The groups are also available on
their own (``review_app``, ``users_app``). Every listing takes ``--json`` with stable field names.

Review decisions are made in the name of a user (``--user``/``-u``, or ``DOSSIER_USER``) who
must exist with role reviewer or admin. User management from the command line is trusted (the
operator has the database) and is audited as ``cli:<login name>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from sqlmodel import Session, col, select

from app.context import AppContext, app_context
from app.records import document_record, queue_record, record_unmasked
from archive import review, users
from cli.labels import print_document_record
from cli.output import (
    DocumentIdArg,
    FullOpt,
    JsonOpt,
    LimitOpt,
    OffsetOpt,
    choose,
    cli_actor,
    customer_types,
    document_types,
    emit_json,
)
from config.taxonomy import Taxonomy
from models import repo
from models.audit import AuditEvent
from models.customer import Customer
from models.user import User, UserPublic

app = typer.Typer(help="审核、用户与审计", no_args_is_help=True)
review_app = typer.Typer(help="审核队列与审核决定", no_args_is_help=True)
users_app = typer.Typer(help="用户与角色", no_args_is_help=True)
app.add_typer(review_app, name="review")
app.add_typer(users_app, name="users")

UserOpt = Annotated[str, typer.Option("--user", "-u", envvar="DOSSIER_USER", help="审核人用户名")]


# --- plumbing ---------------------------------------------------------------------------------


@contextmanager
def open_context() -> Iterator[tuple[AppContext, Session]]:
    """The one :class:`AppContext` (schema must be current) and a session that commits."""
    ctx = app_context()
    with ctx.session() as session:
        yield ctx, session


UsernameArg = Annotated[str, typer.Argument(help="用户名")]


def _actor_user(session: Session, username: str) -> User:
    user = repo.get_user(session, username=username) if username else None
    if user is None:
        raise repo.NotFoundError(f"用户 {username or '(未指定)'} 不存在，请用 --user 指定审核人")
    return user


# --- review -----------------------------------------------------------------------------------


@review_app.command("list")
def review_list(
    user: UserOpt,
    reason: Annotated[str | None, typer.Option(help="原因代码")] = None,
    document_type: Annotated[str | None, typer.Option("--type", help="资料类型代码")] = None,
    customer_type: Annotated[str | None, typer.Option(help="客户类型代码")] = None,
    owner: Annotated[str | None, typer.Option(help="负责人用户名")] = None,
    limit: LimitOpt = 50,
    offset: OffsetOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """List the review queue (anomalies first, then oldest)."""
    with open_context() as (ctx, session):
        page = review.review_queue(
            session,
            reason=choose("--reason", reason, ctx.taxonomy.review_reasons),
            document_type=choose("--type", document_type, document_types(ctx.taxonomy)),
            customer_type=choose("--customer-type", customer_type, customer_types(ctx.taxonomy)),
            owner=owner,
            limit=limit,
            offset=offset,
            taxonomy=ctx.taxonomy,
            user=_actor_user(session, user),  # after the filters: a bad value is a usage error
        )
        if as_json:
            emit_json(
                {
                    "total": page.total,
                    "counts_by_reason": page.counts_by_reason,
                    "items": [queue_record(i, taxonomy=ctx.taxonomy) for i in page.items],
                }
            )
            return
        typer.echo(f"待审核 {page.total} 份")
        for item in page.items:
            reasons = "、".join(ctx.taxonomy.reason_label(r) for r in item.review_reasons)
            typer.echo(
                f"{item.document_id}\t{ctx.taxonomy.document_type(item.document_type).label}\t"
                f"{item.customer_name or '未关联客户'}\t{item.submitted_date}\t{reasons}"
            )


@review_app.command("show")
def review_show(
    document_id: DocumentIdArg, user: UserOpt, full: FullOpt = False, as_json: JsonOpt = False
) -> None:
    """Show one document with its fields and reasons (the same record as documents show)."""
    from archive.permissions import can_view_document

    with open_context() as (ctx, session):
        actor = _actor_user(session, user)
        document = repo.get_document(session, document_id=document_id)
        customer = (
            session.get(Customer, document.customer_id)
            if document and document.customer_id
            else None
        )
        if document is None or not can_view_document(actor, document, customer):
            raise repo.NotFoundError(f"资料 {document_id} 不存在")
        data = document_record(document, customer=customer, taxonomy=ctx.taxonomy, unmask=full)
        data["allowed_actions"] = review.allowed_actions(document.status)
        if full:
            record_unmasked(
                session, actor=actor.username, entity_type="document", entity_id=document_id
            )
        if as_json:
            emit_json(data)
            return
        print_document_record(data, action_labels=review.ACTION_LABELS)


def _print_document(session: Session, document: Any, as_json: bool, taxonomy: Taxonomy) -> None:
    if as_json:
        customer = session.get(Customer, document.customer_id) if document.customer_id else None
        emit_json(document_record(document, customer=customer, taxonomy=taxonomy))
    else:
        label = taxonomy.document_status_label(document.status)
        typer.echo(f"资料 {document.id}: {label}（{document.pdf_key}）")


@review_app.command("approve")
def review_approve(
    document_id: DocumentIdArg,
    user: UserOpt,
    set_field: Annotated[list[str] | None, typer.Option("--set", help="更正字段 名称=值")] = None,
    document_type: Annotated[str | None, typer.Option("--type", help="更正资料类型")] = None,
    submitted_date: Annotated[str | None, typer.Option("--date", help="更正提交日期")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a document (待审核/更新中 -> 已归档), optionally correcting it first."""
    corrections: dict[str, Any] = {}
    if set_field:
        pairs = [s.partition("=") for s in set_field]
        if any(not sep for _, sep, _ in pairs):
            raise typer.BadParameter("--set 的格式应为 名称=值")
        corrections["fields"] = {k.strip(): v for k, _, v in pairs}
    if document_type:
        corrections["document_type"] = document_type
    if submitted_date:
        corrections["submitted_date"] = submitted_date
    with open_context() as (ctx, session):
        document = review.approve(
            session,
            ctx.store,
            document_id=document_id,
            user=_actor_user(session, user),
            taxonomy=ctx.taxonomy,
            corrections=corrections or None,
        )
        _print_document(session, document, as_json, ctx.taxonomy)


@review_app.command("reject")
def review_reject(
    document_id: DocumentIdArg,
    user: UserOpt,
    reason: Annotated[str, typer.Option("--reason", "-r", help="驳回原因")],
    as_json: JsonOpt = False,
) -> None:
    """Reject a document with a reason."""
    with open_context() as (ctx, session):
        document = review.reject(
            session, document_id=document_id, user=_actor_user(session, user), reason=reason
        )
        _print_document(session, document, as_json, ctx.taxonomy)


@review_app.command("relink")
def review_relink(
    document_id: DocumentIdArg,
    customer_code: Annotated[str, typer.Argument(help="客户编号")],
    user: UserOpt,
    as_json: JsonOpt = False,
) -> None:
    """Link a document to a customer (moves its objects to the customer's folder)."""
    with open_context() as (ctx, session):
        document = review.relink(
            session,
            ctx.store,
            document_id=document_id,
            customer_code=customer_code,
            user=_actor_user(session, user),
            taxonomy=ctx.taxonomy,
        )
        _print_document(session, document, as_json, ctx.taxonomy)


@review_app.command("claim")
def review_claim(
    document_id: DocumentIdArg,
    user: UserOpt,
    minutes: Annotated[
        int, typer.Option(min=1, help="认领有效分钟数")
    ] = review.DEFAULT_CLAIM_TTL_MINUTES,
    as_json: JsonOpt = False,
) -> None:
    """Claim a document so no other reviewer works on it."""
    with open_context() as (ctx, session):
        document = review.claim(
            session,
            document_id=document_id,
            user=_actor_user(session, user),
            ttl_minutes=minutes,
        )
        _print_document(session, document, as_json, ctx.taxonomy)


@review_app.command("release")
def review_release(document_id: DocumentIdArg, user: UserOpt, as_json: JsonOpt = False) -> None:
    """Release a claim."""
    with open_context() as (ctx, session):
        document = review.release(session, document_id=document_id, user=_actor_user(session, user))
        _print_document(session, document, as_json, ctx.taxonomy)


# --- users ------------------------------------------------------------------------------------


def _user_row(user: User) -> dict[str, Any]:
    return UserPublic.model_validate(user, from_attributes=True).model_dump(mode="json")


@users_app.command("add")
def users_add(
    username: UsernameArg,
    role: Annotated[
        str, typer.Option(help="角色：sales（销售）/ reviewer（审核人）/ admin（管理员）")
    ] = "sales",
    display_name: Annotated[str | None, typer.Option(help="显示名称")] = None,
    email: Annotated[str | None, typer.Option(help="电子邮箱（接收通知）")] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt="密码",
            hide_input=True,
            confirmation_prompt=True,
            envvar="DOSSIER_NEW_PASSWORD",
            help="密码（默认交互输入）",
        ),
    ] = "",
    as_json: JsonOpt = False,
) -> None:
    """Add a user who can sign in."""
    with open_context() as (ctx, session):
        user = users.create_user(
            session,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            email=email,
            actor=cli_actor(),
        )
        _print_user(user, as_json, ctx.taxonomy, "已添加")


def _print_user(user: User, as_json: bool, taxonomy: Taxonomy, verb: str) -> None:
    if as_json:
        emit_json(_user_row(user))
    else:
        state = "" if user.is_active else "（已停用）"
        typer.echo(f"{verb}用户 {user.username}：{taxonomy.roles.get(user.role, user.role)}{state}")


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """List users."""
    with open_context() as (ctx, session):
        rows = users.list_users(session)
        if as_json:
            emit_json([_user_row(u) for u in rows])
            return
        for u in rows:
            state = "启用" if u.is_active else "停用"
            role = ctx.taxonomy.roles.get(u.role, u.role)
            typer.echo(f"{u.username}\t{role}\t{u.display_name}\t{state}\t{u.email or ''}")


@users_app.command("set-role")
def users_set_role(
    username: UsernameArg,
    role: Annotated[str, typer.Argument(help="新角色：sales / reviewer / admin")],
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role."""
    with open_context() as (ctx, session):
        user = users.set_role(session, username=username, role=role, actor=cli_actor())
        _print_user(user, as_json, ctx.taxonomy, "已更新")


@users_app.command("set-email")
def users_set_email(
    username: UsernameArg,
    email: Annotated[str, typer.Argument(help='电子邮箱；空字符串 "" 表示清除')],
    as_json: JsonOpt = False,
) -> None:
    """Set where a user's notifications go (an empty address clears it)."""
    with open_context() as (ctx, session):
        user = users.set_email(session, username=username, email=email, actor=cli_actor())
        _print_user(user, as_json, ctx.taxonomy, "已更新")


@users_app.command("disable")
def users_disable(username: UsernameArg, as_json: JsonOpt = False) -> None:
    """Disable a user (they can no longer sign in)."""
    with open_context() as (ctx, session):
        user = users.disable_user(session, username=username, actor=cli_actor())
        _print_user(user, as_json, ctx.taxonomy, "已停用")


@users_app.command("end-sessions")
def users_end_sessions(username: UsernameArg, as_json: JsonOpt = False) -> None:
    """End all of a user's web sessions (their next request goes to the sign-in page)."""
    with open_context() as (_ctx, session):
        ended = users.end_sessions(session, username=username, actor=cli_actor())
        if as_json:
            emit_json({"username": username, "sessions_ended": ended})
        else:
            typer.echo(f"已结束用户 {username} 的全部会话：{ended} 个")


# --- audit ------------------------------------------------------------------------------------


def _audit_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "detail": event.detail,
    }


@app.command("audit")
def audit(
    document: Annotated[int | None, typer.Option("--document", help="资料编号")] = None,
    user: Annotated[str | None, typer.Option("--user", help="操作人用户名")] = None,
    limit: LimitOpt = 100,
    as_json: JsonOpt = False,
) -> None:
    """Show the audit trail, newest first, for a document and/or an actor."""
    with open_context() as (ctx, session):
        query = select(AuditEvent)
        if document is not None:
            query = query.where(
                AuditEvent.entity_type == "document", AuditEvent.entity_id == str(document)
            )
        if user:
            query = query.where(AuditEvent.actor == user)
        events = session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit)).all()
        if as_json:
            emit_json([_audit_row(e) for e in events])
            return
        for e in events:
            typer.echo(
                f"{e.at:%Y-%m-%d %H:%M:%S}\t{e.actor}\t{e.action}\t"
                f"{e.entity_type}:{e.entity_id}\t{e.detail or ''}"
            )
