"""The review web UI: ``create_app(settings)`` builds a FastAPI app (Jinja2 pages, Chinese labels).

Routes live in :mod:`web.routes`; they call the service layer (``archive.review``,
``archive.users``, ``archive.permissions``, ``archive.search``) and never hold business rules.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from starlette.middleware.sessions import SessionMiddleware

from app.context import AppContext
from archive.storage.base import ObjectStore
from config.settings import Settings
from web.deps import check_csrf
from web.handlers import install_error_handlers
from web.security import (
    SecurityHeadersMiddleware,
    csrf_token,
    load_or_create_secret,
    secure_cookies,
    security_headers,
)
from web.sessions import cookie_max_age

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent
SESSION_COOKIE = "dossier_session"


def make_templates() -> Jinja2Templates:
    """The Jinja2 environment with the helpers every page uses."""
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    templates.env.globals["csrf_token"] = csrf_token
    return templates


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    store: ObjectStore | None = None,
    host: str | None = None,
) -> FastAPI:
    """Build the web app.

    Args:
        settings: Validated settings (database, storage, intake folder, secret key).
        engine: A database engine to use instead of one made from ``settings.database_url``.
        store: An object store to use instead of one made from ``settings.storage_url``.
        host: The address uvicorn listens on (default ``settings.web_host``); decides whether
            cookies are Secure when ``settings.web_secure_cookies`` is not set.

    Returns:
        The FastAPI application (serve it with uvicorn).
    """
    from web.api import install_api
    from web.routes import register_routes

    context = AppContext(settings=settings)
    if engine is not None:
        context.engine = engine  # type: ignore[misc]  (cached_property: given, not built)
    if store is not None:
        context.store = store  # type: ignore[misc]
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
    secure = secure_cookies(configured=settings.web_secure_cookies,
                            host=host or settings.web_host)
    install_api(app, settings)  # before the middleware below, so inside it (security headers)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=cookie_max_age(settings),
        same_site="lax",
        https_only=secure,
    )
    app.add_middleware(SecurityHeadersMiddleware, headers=security_headers(secure=secure))

    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    install_error_handlers(app)
    register_routes(app)
    return app

