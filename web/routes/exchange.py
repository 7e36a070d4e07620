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
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from archive.customers import get_visible
from archive.exchange.dossier_zip import write_dossier
from archive.exchange.export import FORMATS, export_customers
from archive.exchange.template import write_template
from archive.permissions import Action, require
from web import import_jobs
from web.deps import Context, CurrentUser, DbSession
from web.errors import UploadTooLargeError
from web.exchange_view import (
    SESSION_REJECTS,
    SESSION_UPLOAD,
    discard,
    download,
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
BUSY = "您已有一个导入正在进行，请等它完成后再上传"


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
def template(user: CurrentUser, ctx: Context) -> Response:
    folder = temp_folder(ctx.settings)
    output = folder / "template.xlsx"
    write_template(output, ctx.taxonomy)
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
    if import_jobs.running_for(user) is not None:
        return _import_page(request, user, status=409, error=BUSY)
    try:
        staged = await run_in_threadpool(
            stage_upload, upload.file, settings=ctx.settings, filename=upload.filename
        )
    except UploadTooLargeError as e:
        return _import_page(request, user, status=413, error=e.message)
    db.commit()  # end this request's transaction: on SQLite it would hold the job's write lock
    job = import_jobs.start(ctx, user, staged, dry_run=True, partial=False)
    return await _follow(request, user, job, background=form.get("background") == "1")


@router.post("/customers/import/commit")
async def commit_import(
    request: Request, db: DbSession, user: CurrentUser, ctx: Context
) -> Response:
    """Import the previewed file: all or nothing (``all``) or only the valid rows (``partial``)."""
    require(user, Action.VIEW)
    form = await request.form()
    mode = str(form.get("mode") or "all")
    staged = request.session.get(SESSION_UPLOAD)
    if mode not in IMPORT_MODES or staged_path(ctx.settings, staged) is None:
        return _import_page(
            request, user, status=409, error="没有待导入的文件（可能已导入或已过期），请重新上传"
        )
    if import_jobs.running_for(user) is not None:
        return _import_page(request, user, status=409, error=BUSY)
    db.commit()  # as in preview
    job = import_jobs.start(ctx, user, staged, dry_run=False, partial=mode == "partial")
    return await _follow(request, user, job, background=form.get("background") == "1")


async def _follow(
    request: Request, user: CurrentUser, job: import_jobs.ImportJob, *, background: bool
) -> Response:
    """The job's progress page (``background``: what the page's forms ask), or its result once
    it has finished (a script, or a form posted without ``background``)."""
    if background:
        import_jobs.remember(request.session, job)
        return RedirectResponse(f"/customers/import/jobs/{job.id}", status_code=303)
    await run_in_threadpool(job.wait)
    return _job_result(request, user, job)


@router.get("/customers/import/jobs/{job_id}")
def job_page(request: Request, job_id: str) -> Response:
    """A running import's progress bar (no database read, see :mod:`web.import_jobs`)."""
    job = import_jobs.find_in(request.session, job_id)
    if job is None:
        return RedirectResponse("/customers/import", status_code=303)
    if job.finished:
        return RedirectResponse(f"/customers/import/jobs/{job.id}/result", status_code=303)
    return _import_page(request, job.user, job=job.progress(), file_name=job.staged.get("name"))


@router.get("/customers/import/jobs/{job_id}/progress")
def job_progress(request: Request, job_id: str) -> Response:
    """Rows done of the file's total, as JSON (polled by the progress page; no database read)."""
    job = import_jobs.find_in(request.session, job_id)
    if job is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return JSONResponse(job.progress(), headers={"Cache-Control": "no-store"})


@router.get("/customers/import/jobs/{job_id}/result")
def job_result(request: Request, job_id: str, user: CurrentUser) -> Response:
    """A finished import's preview or result (rejected rows, the rejects file)."""
    job = import_jobs.find(job_id, user)
    if job is None:
        return _import_page(request, user, status=404, error="没有这个导入任务（可能已过期）")
    if not job.finished:
        return RedirectResponse(f"/customers/import/jobs/{job.id}", status_code=303)
    return _job_result(request, user, job)


def _job_result(request: Request, user: CurrentUser, job: import_jobs.ImportJob) -> Response:
    """What a finished job shows: the preview, the refusal or the import's result."""
    if job.report is None:
        return _import_page(request, user, status=job.status, error=job.error)
    report, settings = job.report, request.app.state.context.settings
    if job.dry_run:
        if staged_path(settings, job.staged) is not None:
            request.session[SESSION_UPLOAD] = job.staged
        return _import_page(request, user, report=report_view(report))
    if not report.committed:  # all or nothing, a row rejected: the file stays for another go
        error = (f"未导入任何数据：{len(report.rejected)} 行有错误。"
                 "修正后重新上传，或选择“仅导入有效行”")  # fmt: skip
        return _import_page(request, user, status=422, report=report_view(report), error=error)
    request.session.pop(SESSION_UPLOAD, None)
    request.session.pop(SESSION_REJECTS, None)
    if report.rejected:
        request.session[SESSION_REJECTS] = job.staged
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
