"""The document page (页面图像 + 识别字段), its decisions, page images, downloads, customers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlmodel import Session

from app.records import customer_record, document_record
from archive import review
from archive.permissions import Action, can, can_view_document
from archive.storage.base import CHUNK_SIZE, ObjectStore
from config.errors import DossierError, ErrorCode
from config.taxonomy import Taxonomy
from models import repo
from models.customer import Customer
from models.document import Document
from models.user import User
from web.deps import Context, CurrentUser, DbSession
from web.field_view import display_value, field_spec, stored_value
from web.params import PageNumber, PathId
from web.render import IMAGE_SUFFIXES, page_image, thumbnail_image
from web.routes.queue import filters_from_query, filters_query, queue_filters
from web.views import field_rows, may_unmask, render

router = APIRouter()

FIELD_PREFIX = "field__"
#: Errors shown as a message on the document page instead of an error page.
RECOVERABLE = {ErrorCode.VALIDATION, ErrorCode.CONFLICT, ErrorCode.INVALID_TRANSITION,
               ErrorCode.NOT_FOUND}


def visible_document(
    db: Session, *, user: User, document_id: int
) -> tuple[Document, Customer | None]:
    """The document and its customer, or 404 when missing or not visible to ``user``."""
    document = repo.get_document(db, document_id=document_id)
    if document is None:
        raise HTTPException(status_code=404, detail=f"资料 {document_id} 不存在")
    customer = db.get(Customer, document.customer_id) if document.customer_id else None
    if not can_view_document(user, document, customer):
        raise HTTPException(status_code=404, detail=f"资料 {document_id} 不存在")
    return document, customer


def _take_claim(db: Session, *, document: Document, user: User) -> tuple[Document, str | None]:
    """Claim a waiting document for a reviewer; returns who else holds it, if anybody."""
    if not can(user, Action.REVIEW) or document.status not in review.QUEUE_STATUSES:
        return document, None
    try:
        return review.claim(db, document_id=document.id or 0, user=user), None
    except review.ClaimConflictError as e:
        return document, str(e.detail.get("claimed_by") or "")


def _short(doc: Document, taxonomy: Taxonomy) -> dict[str, Any]:
    return {
        "id": doc.id,
        "document_type_label": taxonomy.document_type(doc.document_type).label,
        "status_label": taxonomy.document_status_label(doc.status),
        "submitted_date": doc.submitted_date.isoformat(),
    }


def _customer_documents(db: Session, customer: Customer | None, doc: Document,
                        taxonomy: Taxonomy) -> list[dict[str, Any]]:
    if customer is None:
        return []
    docs = repo.list_documents(db, customer_id=customer.id, limit=50)
    return [_short(d, taxonomy) for d in docs if d.id != doc.id]


@router.get("/documents/{document_id}")
def document_page(
    request: Request, document_id: PathId, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    document, customer = visible_document(db, user=user, document_id=document_id)
    document, claim_other = _take_claim(db, document=document, user=user)
    unmask = may_unmask(user)
    filters = queue_filters(request)
    query = filters_query(filters)
    can_decide = (
        can(user, Action.REVIEW)
        and document.status in review.QUEUE_STATUSES
        and not claim_other
    )
    return render(
        request, "document.html", user=user,
        doc=document_record(document, customer=customer, taxonomy=ctx.taxonomy, unmask=unmask),
        pages=list(range(1, (document.page_count or 0) + 1)) if document.pdf_key else [],
        field_rows=field_rows(document.fields or {}, document_type=document.document_type,
                              taxonomy=ctx.taxonomy, unmask=unmask),
        ocr_text=document.ocr_text if unmask else None,
        customer=(
            customer_record(customer, taxonomy=ctx.taxonomy, unmask=unmask) if customer else None
        ),
        customer_documents=_customer_documents(db, customer, document, ctx.taxonomy),
        versions=[_short(d, ctx.taxonomy) for d in repo.document_versions(
            db, document_id=document_id)],
        claim_other=claim_other,
        claim_mine=document.claimed_by == user.username and not claim_other,
        can_decide=can_decide, queue_query=query,
        upload_hints=_upload_hints(db, document, ctx.taxonomy),
        next_url=f"/queue/next{filters_query(filters, after=document_id)}",
        prev_url=f"/queue/prev{filters_query(filters, before=document_id)}",
    )


def _upload_hints(db: Session, document: Document, taxonomy: Taxonomy) -> dict[str, str]:
    """What the uploader said (customer, type) when it differs from what the document says."""
    hints = ((document.fields or {}).get("_meta") or {}).get("upload_hints") or {}
    out: dict[str, str] = {}
    code = hints.get("customer_code")
    customer = repo.get_customer(db, code=code) if code else None
    if customer is not None and customer.id != document.customer_id:
        out["customer_code"], out["customer_name"] = customer.code, customer.name
    kind = hints.get("document_type")
    if kind and kind != document.document_type:
        known = {t.code: t.label for t in taxonomy.document_types}
        out["document_type_label"] = known.get(kind, kind)
    return out


# --- decisions --------------------------------------------------------------------------------


def _submitted_fields(form: Mapping[str, Any]) -> dict[str, str]:
    return {
        key[len(FIELD_PREFIX):]: str(value).strip()
        for key, value in form.items()
        if key.startswith(FIELD_PREFIX) and isinstance(value, str)
    }


def corrections_from_form(document: Document, form: Mapping[str, Any]) -> dict[str, Any]:
    """What the reviewer changed on the form, as ``approve(corrections=...)`` expects.

    A field is unchanged when the form sends back its stored value or the value as the page
    showed it (``500,000.00 元`` for ``500000``); a changed amount is stored without formatting.
    """
    current = document.fields or {}
    changed = {}
    for name, value in _submitted_fields(form).items():
        raw = current.get(name)
        info = raw if isinstance(raw, Mapping) else {"value": raw}
        old = info.get("value")
        spec = field_spec(document.document_type, name)
        if value not in ("" if old is None else str(old), display_value(spec, info)):
            changed[name] = stored_value(spec, value) or None
    out: dict[str, Any] = {}
    if changed:
        out["fields"] = changed
    new_type = str(form.get("document_type") or "")
    if new_type and new_type != document.document_type:
        out["document_type"] = new_type
    new_date = str(form.get("submitted_date") or "")
    if new_date and new_date != document.submitted_date.isoformat():
        out["submitted_date"] = new_date
    return out


def _flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session["flash"] = message
    request.session["flash_kind"] = kind


def _back(document_id: PathId, return_query: str = "") -> Response:
    query = filters_query(filters_from_query(return_query))
    return RedirectResponse(f"/documents/{document_id}{query}", status_code=303)


def _next(document_id: PathId, return_query: str) -> Response:
    query = filters_query(filters_from_query(return_query), after=document_id)
    return RedirectResponse(f"/queue/next{query}", status_code=303)


def _recoverable(
    request: Request, e: DossierError, document_id: PathId, return_query: str
) -> Response:
    if e.code not in RECOVERABLE:
        raise e
    _flash(request, e.message, "error")
    return _back(document_id, return_query)


@router.post("/documents/{document_id}/approve")
async def approve(request: Request, document_id: PathId, db: DbSession, user: CurrentUser,
                  ctx: Context) -> Response:
    form = await request.form()
    return_query = str(form.get("return_query") or "")
    document, _ = visible_document(db, user=user, document_id=document_id)
    corrections = corrections_from_form(document, form)
    try:
        review.approve(db, ctx.store, document_id=document_id, user=user, taxonomy=ctx.taxonomy,
                       corrections=corrections or None)
    except DossierError as e:
        return _recoverable(request, e, document_id, return_query)
    _flash(request, f"资料 #{document_id} 已审核通过")
    return _next(document_id, return_query)


@router.post("/documents/{document_id}/correct")
async def correct(request: Request, document_id: PathId, db: DbSession, user: CurrentUser,
                  ctx: Context) -> Response:
    form = await request.form()
    return_query = str(form.get("return_query") or "")
    document, _ = visible_document(db, user=user, document_id=document_id)
    corrections = corrections_from_form(document, form)
    if corrections:
        try:
            review.correct(db, ctx.store, document_id=document_id, user=user,
                           taxonomy=ctx.taxonomy, **corrections)
        except DossierError as e:
            return _recoverable(request, e, document_id, return_query)
        _flash(request, "修改已保存")
    else:
        _flash(request, "没有需要保存的修改")
    return _back(document_id, return_query)


@router.post("/documents/{document_id}/reject")
def reject(request: Request, document_id: PathId, db: DbSession, user: CurrentUser,
           reason: Annotated[str, Form()] = "", return_query: Annotated[str, Form()] = "",
           ) -> Response:
    visible_document(db, user=user, document_id=document_id)
    try:
        review.reject(db, document_id=document_id, user=user, reason=reason)
    except DossierError as e:
        return _recoverable(request, e, document_id, return_query)
    _flash(request, f"资料 #{document_id} 已驳回")
    return _next(document_id, return_query)


@router.post("/documents/{document_id}/relink")
def relink(request: Request, document_id: PathId, db: DbSession, user: CurrentUser, ctx: Context,
           customer_code: Annotated[str, Form()] = "",
           return_query: Annotated[str, Form()] = "") -> Response:
    visible_document(db, user=user, document_id=document_id)
    try:
        review.relink(db, ctx.store, document_id=document_id, customer_code=customer_code.strip(),
                      user=user, taxonomy=ctx.taxonomy)
    except DossierError as e:
        return _recoverable(request, e, document_id, return_query)
    _flash(request, f"已重新关联到客户 {customer_code.strip()}")
    return _back(document_id, return_query)


@router.post("/documents/{document_id}/release")
def release(request: Request, document_id: PathId, db: DbSession, user: CurrentUser) -> Response:
    visible_document(db, user=user, document_id=document_id)
    try:
        review.release(db, document_id=document_id, user=user)
    except DossierError as e:
        return _recoverable(request, e, document_id, "")
    return RedirectResponse("/queue", status_code=303)


# --- page images and downloads ----------------------------------------------------------------


@router.get("/documents/{document_id}/pages/{page}.png")
def page_png(document_id: PathId, page: PageNumber, db: DbSession, user: CurrentUser,
             ctx: Context) -> Response:
    document, _ = visible_document(db, user=user, document_id=document_id)
    if not document.pdf_key or not document.pdf_sha256:
        raise HTTPException(status_code=404, detail="该资料没有规范化 PDF")
    if not 1 <= page <= (document.page_count or 0):
        raise HTTPException(status_code=404, detail=f"没有第 {page} 页")
    png = page_image(ctx.store, pdf_key=document.pdf_key, pdf_sha256=document.pdf_sha256,
                     page=page)
    return Response(png, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/documents/{document_id}/thumbnail.png")
def thumbnail_png(document_id: PathId, db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    """The first page, small, for the review queue: from the PDF, else from an image original;
    visible to whoever may see the document (404 otherwise, as the document itself)."""
    document, _ = visible_document(db, user=user, document_id=document_id)
    if document.pdf_key and document.pdf_sha256:
        key, sha256, is_pdf = document.pdf_key, document.pdf_sha256, True
    elif document.original_key and document.original_sha256 and (
        document.original_filename or ""
    ).lower().endswith(IMAGE_SUFFIXES):
        key, sha256, is_pdf = document.original_key, document.original_sha256, False
    else:
        raise HTTPException(status_code=404, detail="该资料没有可预览的页面")
    png = thumbnail_image(ctx.store, key=key, sha256=sha256, is_pdf=is_pdf)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


def content_disposition(filename: str) -> str:
    """An ``attachment`` header value that carries a UTF-8 (Chinese) file name."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                       for c in filename) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _stream(store: ObjectStore, key: str) -> Iterator[bytes]:
    with store.open(key, verify=True) as stream:
        while chunk := stream.read(CHUNK_SIZE):
            yield chunk


def _download(store: ObjectStore, *, key: str | None, filename: str, media_type: str) -> Response:
    if not key:
        raise HTTPException(status_code=404, detail="文件不存在")
    info = store.head(key)  # ObjectNotFoundError -> 404 before any byte is sent
    return StreamingResponse(
        _stream(store, key), media_type=media_type,
        headers={"Content-Disposition": content_disposition(filename),
                 "Content-Length": str(info.size)},
    )


@router.get("/documents/{document_id}/pdf")
def download_pdf(document_id: PathId, db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    document, _ = visible_document(db, user=user, document_id=document_id)
    name = (document.pdf_key or "").rpartition("/")[2] or f"document-{document_id}.pdf"
    return _download(ctx.store, key=document.pdf_key, filename=name, media_type="application/pdf")


@router.get("/documents/{document_id}/original")
def download_original(document_id: PathId, db: DbSession, user: CurrentUser,
                      ctx: Context) -> Response:
    document, _ = visible_document(db, user=user, document_id=document_id)
    return _download(ctx.store, key=document.original_key, filename=document.original_filename,
                     media_type="application/octet-stream")
