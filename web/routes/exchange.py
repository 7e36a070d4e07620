"""Customer files in and out on the web (issue 17): export, import, template, dossier ZIP.

Every route calls :mod:`archive.exchange` (no second implementation): the export masks phone,
ID number and e-mail unless an administrator ticks 含完整号码 and is audited there; the import
is first a dry run (预检) showing each rejected row with its row number, column and rule, then
all or nothing or only the valid rows (with a file of the rejected ones to fix and import
again); a sales user's new customers are their own (:func:`archive.customers.create_customer`).
Registered before :mod:`web.routes.customers`, whose ``/customers/{code}`` would match
``/customers/import``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from archive.customers import get_visible
from archive.errors import ImportRefusedError
from archive.exchange.dossier_zip import write_dossier
from archive.exchange.export import FORMATS, export_customers
from archive.exchange.importing import import_file
from archive.exchange.template import write_rejects, write_template
from archive.permissions import Action, require
from config.errors import http_status
from models import repo
from web.deps import Context, CurrentUser, DbSession
from web.errors import UploadTooLargeError
from web.exchange_view import (
    SESSION_REJECTS,
    SESSION_UPLOAD,
    discard,
    download,
    rejects_path,
    report_view,
    stage_upload,
    staged_path,
    stamp,
    temp_folder,
)
from web.routes.customers import customer_filter, list_params
from web.views import render

router = APIRouter()

IMPORT_MODES = ("all", "partial")


# --- export and template ----------------------------------------------------------------------


@router.post("/customers/export")
async def export(request: Request, db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    """The list as filtered by the query string, as XLSX or CSV (masked unless ``full``)."""
    form = await request.form()
    fmt = str(form.get("format") or "xlsx")
    fmt = fmt if fmt in FORMATS else fmt[:10]  # the service names an unknown format
    filters = customer_filter(list_params(request), user)
    folder = temp_folder(ctx.settings)
    output = folder / f"export.{fmt}"
    try:
        await run_in_threadpool(
            export_customers, db, ctx.settings, user, filters, fmt=fmt, output=output,
            full=form.get("full") == "1",
        )  # fmt: skip
        db.commit()
    except BaseException:
        db.rollback()
        discard(folder)
        raise
    return download(output, f"客户资料-{stamp()}.{fmt}", cleanup=folder)


@router.get("/customers/import/template")
def template(db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    folder = temp_folder(ctx.settings)
    output = folder / "template.xlsx"
    write_template(output, repo.options_in_effect(db, ctx.taxonomy))  # lists as admins edit them
    return download(output, "客户导入模板.xlsx", cleanup=folder)


# --- import -----------------------------------------------------------------------------------


def _import_page(request: Request, user: CurrentUser, *, status: int = 200, **context: object):  # type: ignore[no-untyped-def]
    staged = request.session.get(SESSION_UPLOAD)
    return render(
        request,
        "customer_import.html",
        status_code=status,
        user=user,
        staged=staged if isinstance(staged, dict) else None,
        **context,
    )


@router.get("/customers/import")
def import_page(request: Request, user: CurrentUser) -> Response:
    require(user, Action.VIEW)
    request.session.pop(SESSION_UPLOAD, None)
    return _import_page(request, user)


@router.post("/customers/import")
async def preview(request: Request, db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    """Keep the uploaded file and judge every row without writing anything (预检)."""
    require(user, Action.VIEW)
    form = await request.form()
    upload = form.get("file")
    request.session.pop(SESSION_UPLOAD, None)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_page(request, user, status=400, error="请选择要导入的 XLSX 或 CSV 文件")
    try:
        staged = await run_in_threadpool(
            stage_upload, upload.file, settings=ctx.settings, filename=upload.filename
        )
    except UploadTooLargeError as e:
        return _import_page(request, user, status=413, error=e.message)
    path = staged_path(ctx.settings, staged)
    try:
        report = await run_in_threadpool(
            import_file,
            db,
            ctx.settings,
            user,
            path,
            dry_run=True,  # type: ignore[arg-type]
        )
    except ImportRefusedError as e:
        path.unlink(missing_ok=True)  # type: ignore[union-attr]
        return _import_page(request, user, status=http_status(e), error=e.message)
    request.session[SESSION_UPLOAD] = staged
    return _import_page(request, user, report=report_view(report))


@router.post("/customers/import/commit")
async def commit_import(
    request: Request, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    """Import the previewed file: all or nothing (``all``) or only the valid rows (``partial``)."""
    require(user, Action.VIEW)
    form = await request.form()
    mode = str(form.get("mode") or "all")
    staged = request.session.get(SESSION_UPLOAD)
    path = staged_path(ctx.settings, staged)
    if mode not in IMPORT_MODES or path is None:
        return _import_page(
            request, user, status=409, error="没有待导入的文件（可能已导入或已过期），请重新上传"
        )
    try:
        report = await run_in_threadpool(
            import_file, db, ctx.settings, user, path, partial=mode == "partial"
        )
    except ImportRefusedError as e:
        return _import_page(request, user, status=http_status(e), error=e.message)
    if not report.committed:  # all or nothing, a row rejected: the file stays for another go
        error = (f"未导入任何数据：{len(report.rejected)} 行有错误。"
                 "修正后重新上传，或选择“仅导入有效行”")  # fmt: skip
        return _import_page(request, user, status=422, report=report_view(report), error=error)
    request.session.pop(SESSION_UPLOAD, None)
    request.session.pop(SESSION_REJECTS, None)
    if report.rejected:
        write_rejects(rejects_path(ctx.settings, staged), report.rejected)
        request.session[SESSION_REJECTS] = staged
    path.unlink(missing_ok=True)
    return _import_page(request, user, report=report_view(report), done=True)


@router.get("/customers/import/rejects")
def rejects(request: Request, user: CurrentUser, ctx: Context) -> Response:
    """The rejected rows of this session's last partial import, with their 错误 column."""
    staged = request.session.get(SESSION_REJECTS)
    path = staged_path(ctx.settings, staged, kind="rejects")
    if path is None:
        return RedirectResponse("/customers/import", status_code=303)
    return download(path, f"导入被拒绝的行-{stamp()}{staged['suffix']}")  # type: ignore[index]


# --- a customer's dossier ---------------------------------------------------------------------


@router.post("/customers/{code}/dossier")
async def dossier(
    request: Request, code: str, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    """Every archived document of the customer in one ZIP with a manifest (audited)."""
    customer = get_visible(db, user, code)  # 404 for a customer the user may not see
    folder = temp_folder(ctx.settings)
    output = folder / "dossier.zip"
    try:
        await run_in_threadpool(write_dossier, db, ctx.settings, ctx.store, user, code, output)
        db.commit()
    except BaseException:
        db.rollback()
        discard(folder)
        raise
    return download(output, f"客户资料包-{customer.code}.zip", cleanup=folder)
