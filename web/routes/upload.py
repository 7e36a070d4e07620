"""Upload files into the intake folder (a sub-folder per user), for the pipeline to pick up.

Files are handed in through :func:`ingest.intake.drop_file`, like every other channel: never
overwriting, visible only when complete, and with the uploader recorded as the submitter.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from archive.naming import sanitize_component
from archive.permissions import Action, require
from ingest.intake import drop_file
from web.deps import Context, CurrentUser
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
    return render(request, "upload.html", user=user, max_mb=ctx.settings.max_file_mb)


@router.post("/upload")
async def upload(request: Request, user: CurrentUser, ctx: Context) -> Response:
    require(user, Action.UPLOAD)
    form = await request.form()
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    folder = Path(ctx.settings.intake_dir or "") / sanitize_component(user.username)
    max_mb = ctx.settings.max_file_mb
    saved, errors = [], []
    for f in files:
        name = safe_upload_name(f.filename or "")
        source = _Limited(f.file, max_bytes=max_mb * 1024 * 1024, name=name, max_mb=max_mb)
        try:
            path = await run_in_threadpool(
                drop_file, source, name, folder, submitted_by=user.username
            )
        except UploadTooLargeError as e:
            errors.append(e.message)
            continue
        saved.append(path.name)
        log.info("upload by %s: %d bytes into the intake", user.username, source.seen)
    status = 413 if errors and not saved else 200
    if not files:
        errors.append("请选择要上传的文件")
        status = 400
    return render(
        request, "upload.html", status_code=status, user=user, saved=saved,
        max_mb=max_mb, flash="；".join(errors) or f"已上传 {len(saved)} 个文件",
        flash_kind="error" if errors else "ok",
    )
