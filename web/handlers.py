"""One error response: every error a request ends in becomes a status from the code table.

``config.errors.http_status`` decides the status of a :class:`~config.errors.DossierError`;
browsers get the Chinese error page, API-style requests (``Accept: application/json`` without
HTML, or a path under ``/api/``) get ``{"error": {"code", "message", "field"}}`` (``field``:
the input at fault or null; a validation error adds ``rule``; a rate limit sets ``Retry-After``).
A browser without a session is sent to the login page instead of a 401 page.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from config.errors import DossierError, ErrorCode, http_status
from web.errors import LoginRequired, PageNotFoundError, RequestRefused

log = logging.getLogger(__name__)

#: Chinese text for an HTTP status raised without our own message.
_STATUS_MESSAGES = {
    400: "请求无效",
    401: "请先登录",
    403: "没有权限执行此操作",
    404: "页面或资料不存在",
    405: "不支持此请求方式",
    413: "上传的文件过大",
    422: "请求参数无效",
    429: "请求过于频繁，请稍后再试",
}
_CODE_BY_STATUS = {
    400: ErrorCode.USAGE,
    401: ErrorCode.AUTHENTICATION,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.TOO_LARGE,
    422: ErrorCode.VALIDATION,
    429: ErrorCode.THROTTLED,
}


def wants_json(request: Request) -> bool:
    """Whether the client is a program (JSON) rather than a browser (HTML page)."""
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: Request, error: DossierError, *, status: int | None = None) -> Response:
    """The one response for ``error``: a redirect to login, a Chinese page, or JSON."""
    status = status or http_status(error)
    if isinstance(error, LoginRequired) and not wants_json(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    if status >= 500:
        log.error("request %s failed: %s", request.url.path, error.code)
    if wants_json(request):
        return JSONResponse(
            {"error": error_body(error)}, status_code=status, headers=_error_headers(error)
        )
    templates: Jinja2Templates = request.app.state.templates
    context = {"status": status, "message": error.message, "user": None}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def error_body(error: DossierError) -> dict[str, object]:
    """The JSON body of ``error``: code, message, field (or None), and rule when known."""
    body: dict[str, object] = {
        "code": str(error.code),
        "message": error.message,
        "field": error.detail.get("field"),
    }
    if error.detail.get("reason") is not None:
        body["rule"] = error.detail["reason"]
    return body


def _error_headers(error: DossierError) -> dict[str, str]:
    retry_after = error.detail.get("retry_after")
    return {"Retry-After": str(retry_after)} if retry_after is not None else {}


def _invalid_input(exc: RequestValidationError) -> DossierError:
    """The first invalid input of a request as one error naming its field and rule."""
    first = exc.errors()[0] if exc.errors() else {}
    loc = [
        part
        for part in first.get("loc", ())
        if isinstance(part, str) and part not in ("body", "query", "header", "path")
    ]
    field = ".".join(loc) or None
    rule = str(first.get("type", "invalid"))
    message = f"{_STATUS_MESSAGES[422]}：{field}" if field else _STATUS_MESSAGES[422]
    return RequestRefused(message, code=ErrorCode.VALIDATION, field=field, reason=rule)


def _from_http(exc: HTTPException) -> DossierError:
    detail = exc.detail if isinstance(exc.detail, str) else ""
    if not detail or detail.isascii():  # Starlette's English defaults ("Not Found")
        detail = _STATUS_MESSAGES.get(exc.status_code, "请求无法完成")
    return RequestRefused(detail, code=_CODE_BY_STATUS.get(exc.status_code, ErrorCode.INTERNAL))


def install_error_handlers(app: FastAPI) -> None:
    """Route every error of a request through :func:`error_response`."""

    @app.exception_handler(DossierError)
    async def _dossier(request: Request, exc: DossierError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        response = error_response(request, _from_http(exc), status=exc.status_code)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("request %s failed", request.url.path)
        return error_response(request, RequestRefused("服务器内部错误", code=ErrorCode.INTERNAL))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # A path that fails its type (an id too large, not a number) names nothing: 404.
        if any(err.get("loc", ("",))[0] == "path" for err in exc.errors()):
            return error_response(request, PageNotFoundError())
        return error_response(request, _invalid_input(exc))
