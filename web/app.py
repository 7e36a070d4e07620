"""The review web UI: ``create_app(settings)`` builds a FastAPI app (Jinja2 pages, Chinese labels).

Routes live in :mod:`web.routes`; they call the service layer (``archive.review``,
``archive.users``, ``archive.permissions``, ``archive.search``) and never hold business rules.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from starlette.middleware.sessions import SessionMiddleware

from archive.storage import make_store
from archive.storage.base import ObjectStore
from config.errors import DossierError, ErrorCode
from config.settings import Settings
from models.db import make_engine
from web.deps import WebContext, check_csrf
from web.errors import LoginRequired
from web.security import csrf_token, load_or_create_secret

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent
SESSION_COOKIE = "dossier_session"
SESSION_MAX_AGE = 12 * 3600

#: HTTP status for our error codes; anything else is a 500.
STATUS_BY_CODE = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.OBJECT_NOT_FOUND: 404,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.VALIDATION: 400,
    ErrorCode.INVALID_KEY: 400,
    ErrorCode.CONFIGURATION: 400,
    ErrorCode.CHECKSUM_MISMATCH: 500,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
}


def make_templates() -> Jinja2Templates:
    """The Jinja2 environment with the helpers every page uses."""
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    templates.env.globals["csrf_token"] = csrf_token
    return templates


def _error_page(request: Request, *, status: int, message: str) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    context = {"status": status, "message": message, "user": None}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "请求无效"
        if exc.status_code == 404 and message == "Not Found":
            message = "页面或资料不存在"
        return _error_page(request, status=exc.status_code, message=message)

    @app.exception_handler(DossierError)
    async def _dossier(request: Request, exc: DossierError) -> Response:
        status = STATUS_BY_CODE.get(exc.code, 500)
        if status >= 500:
            log.error("request %s failed: %s (%s)", request.url.path, exc.code, exc.message)
        return _error_page(request, status=status, message=exc.message)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    store: ObjectStore | None = None,
) -> FastAPI:
    """Build the web app.

    Args:
        settings: Validated settings (database, storage, intake folder, secret key).
        engine: A database engine to use instead of one made from ``settings.database_url``.
        store: An object store to use instead of one made from ``settings.storage_url``.

    Returns:
        The FastAPI application (serve it with uvicorn).
    """
    from web.routes import register_routes

    context = WebContext(
        settings=settings,
        engine=engine or make_engine(settings.database_url),
        store=store
        or make_store(
            storage_url=settings.storage_url,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_region=settings.s3_region,
        ),
        taxonomy=settings.taxonomy,
    )
    app = FastAPI(
        title="dossier 审核",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(check_csrf)],
    )
    app.state.context = context
    app.state.templates = make_templates()
    secret = load_or_create_secret(configured=settings.secret_key, home=Path(settings.home))
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=False,
    )
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    _install_error_handlers(app)
    register_routes(app)
    return app

