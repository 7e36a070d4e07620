"""``dossier tokens``: personal API tokens (create, list, revoke) for the REST API.

A token is printed once, when created; the archive keeps only its SHA-256. Without ``--user``
the trusted operator acts (admin rights) and ``--for`` names whose token it is.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import Session

from archive import tokens
from cli.customers import UserOpt, acting
from cli.output import JsonOpt, console, emit_json
from models import repo
from models.user import User

tokens_app = typer.Typer(help="API 访问令牌 (tokens)", no_args_is_help=True)


@tokens_app.command("create")
def tokens_create(
    owner: Annotated[str | None, typer.Option("--for", help="令牌所属用户（默认操作人）")] = None,
    name: Annotated[str, typer.Option(help="令牌名称，如用途")] = "",
    expires_days: Annotated[int | None, typer.Option(help="有效天数（默认不过期）")] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a token; it is shown only this once."""
    with acting(user) as (_ctx, session, actor):
        target = owner or (actor.username if actor.id is not None else None)
        if target is None:
            message = "请用 --for 指定令牌所属用户"
            raise repo.ValidationError(message, field="for", reason="required")
        token, row = tokens.create_token(
            session, actor, username=target, name=name, expires_days=expires_days
        )
        record = {**tokens.token_record(row, username=target), "token": token}
    if json_out:
        emit_json(record)
    else:
        console.print(f"已为 {target} 创建访问令牌 {record['id']}（只显示这一次，请妥善保存）：")
        console.print(token, markup=False, highlight=False)


@tokens_app.command("list")
def tokens_list(
    all_users: Annotated[bool, typer.Option("--all", help="所有用户的令牌（管理员）")] = False,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List tokens (never the token text): the acting user's, or everyone's with --all."""
    with acting(user) as (_ctx, session, actor):
        rows = tokens.list_tokens(session, actor, all_users=all_users or actor.id is None)
        records = [tokens.token_record(r, username=_username(session, r.user_id)) for r in rows]
    if json_out:
        emit_json(records)
        return
    table = Table(title="API 访问令牌")
    for title in ("编号", "用户", "名称", "创建时间", "过期时间", "最近使用", "状态"):
        table.add_column(title)
    for r in records:
        state = "有效" if r["live"] else ("已撤销" if r["revoked_at"] else "已过期")
        table.add_row(
            str(r["id"]),
            str(r["username"]),
            r["name"],
            str(r["created_at"])[:19],
            str(r["expires_at"] or "-")[:19],
            str(r["last_used_at"] or "-")[:19],
            state,
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="令牌编号（见 tokens list）")],
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Revoke a token: requests with it are refused (401) from now on."""
    with acting(user) as (_ctx, session, actor):
        record = tokens.token_record(tokens.revoke_token(session, actor, token_id))
    if json_out:
        emit_json(record)
    else:
        console.print(f"已撤销访问令牌 {token_id}")


def _username(session: Session, user_id: int) -> str | None:
    user = session.get(User, user_id)
    return user.username if user is not None else None


def register(root: typer.Typer) -> None:
    """Add ``tokens`` to the root ``dossier`` app (called by cli.main)."""
    root.add_typer(tokens_app, name="tokens")
