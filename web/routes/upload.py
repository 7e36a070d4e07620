"""Upload files into the intake folder (a sub-folder per user), for the pipeline to pick up."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from archive.naming import sanitize_component
from archive.permissions import Action, require
from web.deps import Context, CurrentUser
from web.views import render

log = logging.getLogger(__name__)
router = APIRouter()

CHUNK = 1024 * 1024
MAX_NAME_BYTES = 200
#: Names the intake never takes (temporary downloads, quarantine records): made takeable.
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".error.json")


class UploadTooLargeError(Exception):
    """The upload is over the size limit (the partial file is removed)."""


def safe_upload_name(raw: str) -> str:
    """A safe file name from what the browser sent: no folders, no hidden or temporary names."""
    base = raw.replace("\\", "/").rpartition("/")[2]
    name = sanitize_component(base, max_bytes=MAX_NAME_BYTES)
    if name.lower().endswith(IGNORED_SUFFIXES):
        name += "_"
    return name


def _free_path(folder: Path, name: str) -> Path:
    target = folder / name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    n = 2
    while target.exists():
        target = folder / (f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}")
        n += 1
    return target


def save_upload(source: BinaryIO, *, folder: Path, name: str, max_bytes: int) -> Path:
    """Copy ``source`` into ``folder`` under a free name; visible only when complete.

    The bytes go to a hidden ``.part`` file first (which the intake ignores), then are renamed.

    Raises:
        UploadTooLargeError: More than ``max_bytes``; nothing is left behind.
    """
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".upload-{secrets.token_hex(8)}.part"
    size = 0
    try:
        with temp.open("xb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLargeError(name)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        target = _free_path(folder, name)
        os.replace(temp, target)
        return target
    finally:
        temp.unlink(missing_ok=True)


@router.get("/upload")
def upload_page(request: Request, user: CurrentUser, ctx: Context) -> Response:
    return render(request, "upload.html", user=user, max_mb=ctx.settings.max_file_mb)


@router.post("/upload")
async def upload(request: Request, user: CurrentUser, ctx: Context) -> Response:
    require(user, Action.UPLOAD)
    form = await request.form()
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    folder = Path(ctx.settings.intake_dir or "") / sanitize_component(user.username)
    limit = ctx.settings.max_file_mb * 1024 * 1024
    saved, errors = [], []
    for f in files:
        name = safe_upload_name(f.filename or "")
        try:
            path = await run_in_threadpool(
                save_upload, f.file, folder=folder, name=name, max_bytes=limit
            )
        except UploadTooLargeError:
            errors.append(f"{name} 超过 {ctx.settings.max_file_mb} MB，未上传")
            continue
        saved.append(path.name)
        log.info("upload by %s: %d bytes into the intake", user.username, path.stat().st_size)
    status = 413 if errors and not saved else 200
    if not files:
        errors.append("请选择要上传的文件")
        status = 400
    return render(
        request, "upload.html", status_code=status, user=user, saved=saved,
        max_mb=ctx.settings.max_file_mb, flash="；".join(errors) or f"已上传 {len(saved)} 个文件",
        flash_kind="error" if errors else "ok",
    )
