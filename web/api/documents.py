"""``/api/v1/documents``: list (filters, cursor), one record, PDF and original downloads.

The record is ``app.records.document_record``, the same JSON as ``dossier documents show
--json``. Downloads stream from the object store, verified as they are read, with the stored
SHA-256 as ``X-Checksum-SHA256`` and as a strong ``ETag`` (``If-None-Match`` answers 304).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from app.records import document_record, record_unmasked
from archive.api_lists import DocumentFilter, document_page
from archive.permissions import Action, require
from archive.storage.base import CHUNK_SIZE, ObjectStore
from web.api.deps import ApiUser
from web.deps import Context, DbSession
from web.errors import PageNotFoundError
from web.params import MAX_ID, PathId
from web.routes.documents import content_disposition, visible_document

router = APIRouter(tags=["documents"])

Cursor = Annotated[int | None, Query(ge=1, le=MAX_ID, description="上一页返回的 next_cursor")]
Limit = Annotated[int, Query(ge=1, le=200, description="每页条数")]
Unmask = Annotated[bool, Query(description="显示完整证件号码与电话（审核人、管理员；记入审计）")]


def page_body(items: list[dict[str, Any]], next_cursor: int | None) -> dict[str, Any]:
    """A page of a list: its items and the cursor of the next page (None: the last page)."""
    return {"items": items, "next_cursor": next_cursor}


@router.get("/documents", summary="资料列表（筛选、游标分页）")
def list_documents(
    db: DbSession,
    user: ApiUser,
    ctx: Context,
    status: str | None = None,
    document_type: str | None = None,
    customer: Annotated[str | None, Query(description="客户编号")] = None,
    submitted_from: date | None = None,
    submitted_to: date | None = None,
    submitted_by: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    require(user, Action.VIEW)
    where = DocumentFilter(
        status=status,
        document_type=document_type,
        customer_code=customer,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
        submitted_by=submitted_by,
    )
    rows, next_cursor = document_page(db, user, where, after=cursor, limit=limit)
    items = [document_record(d, customer=c, taxonomy=ctx.taxonomy) for d, c in rows]
    return page_body(items, next_cursor)


@router.get("/documents/{document_id}", summary="一份资料（与命令行 JSON 相同）")
def get_document(
    document_id: PathId,
    db: DbSession,
    user: ApiUser,
    ctx: Context,
    unmask: Unmask = False,
    text: Annotated[bool, Query(description="包含识别文字（审核人、管理员）")] = False,
) -> dict[str, Any]:
    document, customer = visible_document(db, user=user, document_id=document_id)
    if unmask or text:
        require(user, Action.REVIEW)
    if unmask:
        record_unmasked(db, actor=user.username, entity_type="document", entity_id=document_id)
        db.commit()
    return document_record(
        document, customer=customer, taxonomy=ctx.taxonomy, unmask=unmask, include_text=text
    )


def _chunks(store: ObjectStore, key: str) -> Iterator[bytes]:
    with store.open(key, verify=True) as stream:
        while chunk := stream.read(CHUNK_SIZE):
            yield chunk


def _download(
    request: Request,
    store: ObjectStore,
    *,
    key: str | None,
    sha256: str | None,
    filename: str,
    media_type: str,
) -> Response:
    if not key:
        raise PageNotFoundError("文件不存在")
    info = store.head(key)  # ObjectNotFoundError -> 404 before any byte is sent
    etag = f'"{sha256}"' if sha256 else None
    headers = {"Content-Disposition": content_disposition(filename)}
    if sha256:
        headers |= {"ETag": etag or "", "X-Checksum-SHA256": sha256}
    if etag and etag in [v.strip() for v in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    headers["Content-Length"] = str(info.size)
    return StreamingResponse(_chunks(store, key), media_type=media_type, headers=headers)


@router.get("/documents/{document_id}/pdf", summary="下载归档 PDF（流式，带 SHA-256）")
def download_pdf(
    request: Request, document_id: PathId, db: DbSession, user: ApiUser, ctx: Context
) -> Response:
    document, _ = visible_document(db, user=user, document_id=document_id)
    name = (document.pdf_key or "").rpartition("/")[2] or f"document-{document_id}.pdf"
    return _download(
        request,
        ctx.store,
        key=document.pdf_key,
        sha256=document.pdf_sha256,
        filename=name,
        media_type="application/pdf",
    )


@router.get("/documents/{document_id}/original", summary="下载原始文件（流式，带 SHA-256）")
def download_original(
    request: Request, document_id: PathId, db: DbSession, user: ApiUser, ctx: Context
) -> Response:
    document, _ = visible_document(db, user=user, document_id=document_id)
    return _download(
        request,
        ctx.store,
        key=document.original_key,
        sha256=document.original_sha256,
        filename=document.original_filename,
        media_type="application/octet-stream",
    )
