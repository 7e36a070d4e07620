"""The quarantine page (``/quarantine``) for reviewers and admins: reason, download, re-queue,
discard with a reason. The work is :mod:`app.quarantine`'s (the same as ``dossier quarantine``);
each action is audited there and committed here.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from app import quarantine
from archive.permissions import Action, require
from config.errors import DossierError
from web.deps import Context, CurrentUser, DbSession
from web.views import render

router = APIRouter()


def _back(request: Request, message: str, kind: str = "ok") -> Response:
    request.session["flash"] = message
    request.session["flash_kind"] = kind
    return RedirectResponse("/quarantine", status_code=303)


@router.get("/quarantine")
def quarantine_page(request: Request, user: CurrentUser, ctx: Context) -> Response:
    require(user, Action.REVIEW)
    rows = quarantine.quarantine_rows(ctx.settings)
    return render(request, "quarantine.html", user=user, rows=rows)


@router.get("/quarantine/file")
def download(user: CurrentUser, ctx: Context, ref: str) -> Response:
    require(user, Action.REVIEW)
    path, name = quarantine.entry_file(ctx.settings, ref)
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.post("/quarantine/requeue")
def requeue(
    request: Request, user: CurrentUser, ctx: Context, db: DbSession, ref: Annotated[str, Form()]
) -> Response:
    require(user, Action.REVIEW)
    try:
        dest = quarantine.requeue(db, settings=ctx.settings, ref=ref, actor=user.username)
    except DossierError as e:
        return _back(request, e.message, "error")
    db.commit()
    return _back(request, f"已送回收件夹重新处理：{dest.name}")


@router.post("/quarantine/discard")
def discard(
    request: Request,
    user: CurrentUser,
    ctx: Context,
    db: DbSession,
    ref: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    require(user, Action.REVIEW)
    try:
        quarantine.discard(db, settings=ctx.settings, ref=ref, actor=user.username, reason=reason)
    except DossierError as e:
        return _back(request, e.message, "error")
    db.commit()
    return _back(request, "已丢弃该文件（已记录原因）")
