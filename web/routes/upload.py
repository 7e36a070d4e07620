"""Upload files into the intake folder (a sub-folder per user); show each upload's outcome.

A file the intake cannot read (by its own content detection, :func:`app.uploads.refuse_unreadable`)
is refused before anything is written. The rest are handed in through
:func:`ingest.intake.drop_file`, like every other channel: never overwriting, visible only when
complete, with the uploader recorded as the submitter and the optional customer and document
type hints kept in the drop sidecar. ``/uploads`` (我的上传) reads each upload's outcome from
where the pipeline keeps it (:func:`app.uploads.my_uploads`); ``/lookup/customers`` feeds the
customer autocomplete here and on the document page.
"""

from __future__ import annotations

import logging
from typing import BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app import uploads
from archive.customer_query import CustomerFilter, list_customers
from archive.naming import sanitize_component
from archive.permissions import Action, require
from config.errors import DossierError
from web.deps import Context, CurrentUser, DbSession
from web.errors import UploadTooLargeError
from web.views import render

log = logging.getLogger(__name__)
router = APIRouter()

MAX_NAME_BYTES = 200


def safe_upload_name(raw: str) -> str:
    """A safe file name from what the browser sent: no folders, no hidden names."""
    base = raw.replace("\\", "/").rpartition("/")[2]
    return sanitize_component(base, max_bytes=MAX_NAME_BYTES)


class _Limited:
    """A binary stream that raises :class:`UploadTooLargeError` past ``max_bytes``."""

    def __init__(self, source: BinaryIO, *, max_bytes: int, name: str, max_mb: int) -> None:
        self.source, self.max_bytes, self.name, self.max_mb = source, max_bytes, name, max_mb
        self.seen = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size)
        self.seen += len(chunk)
        if self.seen > self.max_bytes:
            raise UploadTooLargeError(f"{self.name} 超过 {self.max_mb} MB，未上传")
        return chunk


@router.get("/upload")
def upload_page(request: Request, user: CurrentUser, ctx: Context) -> Response:
    return _page(request, user, ctx)


def _page(
    request: Request, user: CurrentUser, ctx: Context, *, status_code: int = 200, **context: object
) -> Response:
    return render(
        request,
        "upload.html",
        status_code=status_code,
        user=user,
        max_mb=ctx.settings.max_file_mb,
        document_types=ctx.taxonomy.document_types,
        formats=uploads.readable_formats(),
        **context,
    )


@router.post("/upload")
async def upload(request: Request, user: CurrentUser, ctx: Context, db: DbSession) -> Response:
    require(user, Action.UPLOAD)
    form = await request.form()
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    typed = {k: str(form.get(k) or "") for k in ("customer_code", "document_type")}
    if not files:
        return _page(
            request,
            user,
            ctx,
            status_code=400,
            flash="请选择要上传的文件",
            flash_kind="error",
            **typed,
        )
    try:
        hints = uploads.check_hints(db, user=user, taxonomy=ctx.taxonomy, **typed)
    except DossierError as e:
        return _page(
            request, user, ctx, status_code=400, flash=e.message, flash_kind="error", **typed
        )
    saved, errors, status = await _save_all(files, user.username, ctx, hints)
    done = f"已上传 {len(saved)} 个文件，可在“我的上传”查看处理结果"
    flash = "；".join(errors) if errors else done
    return _page(
        request,
        user,
        ctx,
        status_code=status,
        saved=saved,
        flash=flash,
        flash_kind="error" if errors else "ok",
        **typed,
    )


async def _save_all(
    files: list[UploadFile], username: str, ctx: Context, hints: tuple[str | None, str | None]
) -> tuple[list[str], list[str], int]:
    """Check every file first (nothing is written when one is unreadable), then hand all in."""
    max_mb = ctx.settings.max_file_mb
    errors: list[str] = []
    for f in files:
        name = safe_upload_name(f.filename or "")
        if f.size is not None and f.size > max_mb * 1024 * 1024:
            errors.append(f"{name} 超过 {max_mb} MB，未上传")
            continue
        try:
            await run_in_threadpool(uploads.refuse_unreadable, f.file)
        except DossierError as e:
            errors.append(f"{name}：{e.message}，未上传")
    if errors:
        too_large = all("MB，未上传" in e for e in errors)
        return [], errors, 413 if too_large else 415
    saved: list[str] = []
    for f in files:
        name = safe_upload_name(f.filename or "")
        source = _Limited(f.file, max_bytes=max_mb * 1024 * 1024, name=name, max_mb=max_mb)
        try:
            path = await run_in_threadpool(
                uploads.hand_in,
                source,
                name,
                settings=ctx.settings,
                username=username,
                customer_code=hints[0],
                document_type=hints[1],
            )
        except UploadTooLargeError as e:
            errors.append(e.message)
            continue
        saved.append(path.name)
        log.info("upload by %s: %d bytes into the intake", username, source.seen)
    return saved, errors, 413 if errors and not saved else 200


@router.get("/uploads")
def my_uploads(request: Request, user: CurrentUser, ctx: Context, db: DbSession) -> Response:
    rows = uploads.my_uploads(
        db, settings=ctx.settings, taxonomy=ctx.taxonomy, username=user.username
    )
    busy = any(r.state in ("waiting", "processing") for r in rows)
    return render(request, "my_uploads.html", user=user, rows=rows, busy=busy)


@router.get("/lookup/customers")
def lookup_customers(user: CurrentUser, db: DbSession, q: str = "") -> Response:
    """Up to ten customers the user may see whose name, USCC or code contains ``q``."""
    if len(q.strip()) < 1:
        return JSONResponse({"customers": []})
    found, _ = list_customers(db, user, CustomerFilter(text=q.strip()[:100]), sort="name", limit=10)
    return JSONResponse(
        {"customers": [{"code": c.code, "name": c.name, "uscc": c.uscc} for c in found]}
    )
