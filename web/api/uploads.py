"""``POST /api/v1/documents`` (upload) and ``GET /api/v1/uploads/{id}`` (its outcome).

A file is handed in through :func:`app.intake_drop.hand_in`, like the web form and every other
channel, into the uploader's sub-folder of the intake (or of the shared S3 intake, with a signed
sidecar carrying the uploader, hints and upload id), with the uploader as the submitter. An
``Idempotency-Key`` header makes a retry safe: the same user sending the same key again gets the
first upload back (``Idempotent-Replayed: true``) and nothing is dropped twice. The upload id's
status follows the file through the intake: ``queued`` (in the intake), ``processing``
(claimed), ``filed`` (its documents), ``quarantined`` or ``duplicate`` (with the reason).

A file the intake cannot read is refused (415) before anything is written, by the intake's own
detection (:func:`app.uploads.refuse_unreadable`, as the web form). The optional customer and
document type are checked (a customer the user may not see is 404) and travel with the file
(:func:`app.uploads.hand_in`); the intake applies them where the content says nothing else
(:mod:`app.filing_request`), and the document page shows a hint that disagrees.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app import intake_drop, uploads
from app.records import document_record
from archive.permissions import Action, can, can_view_document, require
from config.errors import DossierError
from config.settings import Settings
from ingest.quarantine import list_quarantine
from models import repo
from models.api_token import ApiUpload
from models.customer import Customer
from models.db import utcnow
from models.repo import ConflictError, ValidationError
from models.user import User
from web.api.deps import API_PREFIX, ApiUser
from web.deps import Context, DbSession
from web.errors import PageNotFoundError
from web.routes.upload import _Limited, safe_upload_name

router = APIRouter(tags=["uploads"])

#: An upload with this key still without its file after this long is taken over by a retry.
IN_FLIGHT = timedelta(minutes=5)
MAX_KEY = 200
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "文件"},
                        "customer": {"type": "string", "description": "客户编号（可选）"},
                        "document_type": {"type": "string", "description": "资料类型（可选）"},
                    },
                }
            }
        },
    }
}


def _status(db: Session, settings: Settings, row: ApiUpload, user: User) -> dict[str, Any]:
    """Where the upload's file is now: queued, processing, filed, quarantined or duplicate."""
    if row.dropped_at is None or row.sha256 is None:
        return {"status": "receiving"}
    documents = [
        d
        for d in repo.find_documents_by_sha256(db, sha256=row.sha256)
        if d.original_sha256 == row.sha256
    ]
    customers = {
        d.id: db.get(Customer, d.customer_id) if d.customer_id else None for d in documents
    }
    visible = [d for d in documents if can_view_document(user, d, customers[d.id])]
    if visible:
        taxonomy = settings.taxonomy
        records = [document_record(d, customer=customers[d.id], taxonomy=taxonomy) for d in visible]
        return {"status": "filed", "documents": records}
    for entry in list_quarantine(settings.quarantine_dir):
        if entry.sha256 == row.sha256:
            status = "duplicate" if entry.reason == "duplicate" else "quarantined"
            return {"status": status, "error": {"code": entry.reason, "message": entry.message}}
    if row.stored_name and _still_waiting(settings, row.stored_name):
        return {"status": "queued"}
    return {"status": "processing"}


def _still_waiting(settings: Settings, stored: str) -> bool:
    """Whether the dropped file still waits in the intake (local, or ``s3:<key>``)."""
    if not stored.startswith("s3:"):
        return (Path(settings.intake_dir or "") / stored).exists()
    try:
        return intake_drop.intake_store(settings).exists(stored[3:])
    except DossierError:  # the S3 intake unreachable: say so through the status
        return False


def upload_record(db: Session, settings: Settings, row: ApiUpload, user: User) -> dict[str, Any]:
    """The upload as JSON, with its current status."""
    return {
        "id": row.id,
        "status_url": f"{API_PREFIX}/uploads/{row.id}",
        "filename": row.filename,
        "size": row.size,
        "sha256": row.sha256,
        "customer": row.customer_code,
        "document_type": row.document_type,
        "idempotency_key": row.idempotency_key,
        "created_at": row.created_at.isoformat(),
        "dropped_at": row.dropped_at.isoformat() if row.dropped_at else None,
        "documents": [],
        "error": None,
        **_status(db, settings, row, user),
    }


def _hints(db: Session, settings: Settings, user: User, form: Any) -> tuple[str | None, str | None]:
    """The optional customer and document type, checked as the upload form checks them."""
    return uploads.check_hints(
        db,
        user=user,
        taxonomy=settings.taxonomy,
        customer_code=str(form.get("customer") or ""),
        document_type=str(form.get("document_type") or ""),
    )


def _key(value: str | None) -> str | None:
    key = (value or "").strip() or None
    if key is not None and (len(key) > MAX_KEY or not key.isprintable()):
        raise ValidationError(
            f"Idempotency-Key 应为不超过 {MAX_KEY} 个可打印字符",
            field="Idempotency-Key",
            reason="length",
        )
    return key


def _replay(db: Session, ctx: Any, row: ApiUpload, user: User) -> JSONResponse:
    body = upload_record(db, ctx.settings, row, user)
    return JSONResponse(body, status_code=200, headers={"Idempotent-Replayed": "true"})


async def _file_of(request: Request) -> tuple[UploadFile, Any]:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ValidationError(
            "请选择要上传的文件（表单字段 file）", field="file", reason="required"
        )
    return upload, form


def _reserve(db: Session, row: ApiUpload) -> ApiUpload | None:
    """Insert ``row``; None when the same key won a race (the caller replays that one)."""
    try:
        repo.add_api_upload(db, row=row)
        db.commit()
    except IntegrityError:
        db.rollback()
        return None
    return row


@router.post(
    "/documents",
    status_code=202,
    summary="上传资料（multipart，支持 Idempotency-Key）",
    openapi_extra=_UPLOAD_BODY,
)
async def upload_document(
    request: Request,
    db: DbSession,
    user: ApiUser,
    ctx: Context,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    require(user, Action.UPLOAD)
    key = _key(idempotency_key)
    row = repo.find_api_upload(db, user_id=int(user.id or 0), key=key) if key else None
    if row is not None and row.dropped_at is not None:
        return _replay(db, ctx, row, user)
    if row is not None and utcnow() - row.created_at < IN_FLIGHT:
        raise ConflictError(
            "相同 Idempotency-Key 的上传正在进行，请稍后查询", field="Idempotency-Key"
        )
    upload, form = await _file_of(request)
    customer, dtype = _hints(db, ctx.settings, user, form)
    name = safe_upload_name(upload.filename or "")
    await run_in_threadpool(uploads.refuse_unreadable, upload.file)  # before anything is written
    if row is None:
        row = _reserve(
            db,
            ApiUpload(
                id=str(uuid.uuid4()),
                user_id=int(user.id or 0),
                idempotency_key=key,
                filename=name,
                customer_code=customer,
                document_type=dtype,
                created_at=utcnow(),
            ),
        )
        if row is None:
            return _replay(
                db, ctx, repo.find_api_upload(db, user_id=int(user.id or 0), key=key or ""), user
            )
    await _drop(db, ctx.settings, row, upload, user, hints=(name, customer, dtype))
    db.commit()
    body = upload_record(db, ctx.settings, row, user)
    return JSONResponse(body, status_code=202, headers={"Location": body["status_url"]})


async def _drop(
    db: Session,
    settings: Settings,
    row: ApiUpload,
    upload: UploadFile,
    user: User,
    *,
    hints: tuple[str, str | None, str | None],
) -> None:
    """Hand the file in (hashing it on the way) and mark ``row`` dropped; on any failure the
    row goes, so a retry with the same key is a fresh upload (nothing was dropped)."""
    name, customer, dtype = hints  # this request's (a retry may name the file anew)
    max_mb = settings.max_file_mb
    source = _Hashing(
        _Limited(upload.file, max_bytes=max_mb * 1024 * 1024, name=name, max_mb=max_mb)
    )
    try:
        path = await run_in_threadpool(
            functools.partial(
                uploads.hand_in,
                source,
                name,
                settings=settings,
                username=user.username,
                customer_code=customer,
                document_type=dtype,
                upload_id=row.id,
            )
        )
    except BaseException:
        repo.delete_api_upload(db, row=row)
        db.commit()
        raise
    repo.mark_api_upload_dropped(
        db,
        row=row,
        stored_name=path.stored,
        sha256=source.digest.hexdigest(),
        size=source.size,
    )


class _Hashing:
    """A stream that hashes what is read through it (the intake may take the file at once)."""

    def __init__(self, source: _Limited) -> None:
        self.source, self.digest, self.size = source, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


@router.get("/uploads/{upload_id}", summary="上传的处理结果")
def upload_status(upload_id: str, db: DbSession, user: ApiUser, ctx: Context) -> dict[str, Any]:
    row = repo.get_api_upload(db, upload_id=upload_id[:36])
    if row is None or not (row.user_id == user.id or can(user, Action.MANAGE_USERS)):
        raise PageNotFoundError(f"上传 {upload_id} 不存在")
    return upload_record(db, ctx.settings, row, user)
