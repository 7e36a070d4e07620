"""``/api/v1/tokens``: a user's own personal API tokens (admins: anybody's).

The token text is in the creation response only; lists never show it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from archive import tokens
from web.api.deps import ApiUser
from web.deps import DbSession
from web.params import PathId

router = APIRouter(tags=["tokens"])


class NewToken(BaseModel):
    name: str = Field(default="", description="令牌名称，如用途")
    expires_days: int | None = Field(default=None, description="有效天数（空：不过期）")
    username: str | None = Field(default=None, description="令牌所属用户（管理员；默认自己）")


@router.get("/tokens", summary="我的访问令牌")
def list_tokens(db: DbSession, user: ApiUser, all_users: bool = False) -> dict[str, Any]:
    rows = tokens.list_tokens(db, user, all_users=all_users)
    return {"items": [tokens.token_record(r) for r in rows]}


@router.post("/tokens", status_code=201, summary="创建访问令牌（令牌只显示这一次）")
def create_token(body: NewToken, db: DbSession, user: ApiUser) -> JSONResponse:
    token, row = tokens.create_token(
        db, user, username=body.username, name=body.name, expires_days=body.expires_days
    )
    db.commit()
    record = {**tokens.token_record(row, username=body.username or user.username), "token": token}
    return JSONResponse(record, status_code=201, headers={"Cache-Control": "no-store"})


@router.delete("/tokens/{token_id}", summary="撤销访问令牌")
def revoke_token(token_id: PathId, db: DbSession, user: ApiUser) -> dict[str, Any]:
    row = tokens.revoke_token(db, user, token_id)
    db.commit()
    return tokens.token_record(row)
