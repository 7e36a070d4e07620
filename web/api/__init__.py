"""The REST API under ``/api/v1`` (issue 13): JSON over the same services as the web UI.

:func:`install_api` mounts the routers (documents, uploads, customers, review, integrity,
tokens), the body-size limit, the per-caller rate limiter, the OpenAPI schema at
``/api/v1/openapi.json`` and a plain HTML page listing the endpoints at ``/api/v1/docs``
(no script or style from a CDN: Swagger UI's page loads both from jsDelivr, so it is not used).
Errors are the web app's one error response (``web.handlers``): ``{"error": {"code",
"message", "field"}}`` with the status from ``config.errors.http_status``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from config.settings import Settings
from web.api import customers, documents, review, tokens, uploads
from web.api.deps import API_PREFIX, BODY_OVERHEAD_BYTES, BodyLimitMiddleware, RateLimiter
from web.api.docs_page import docs_html

API_TITLE = "dossier 客户资料档案 API"
API_VERSION = "1.0"


def _schema(app: FastAPI) -> dict[str, Any]:
    cached = getattr(app.state, "api_schema", None)
    if cached is None:
        cached = get_openapi(
            title=API_TITLE,
            version=API_VERSION,
            description=(
                "认证：`Authorization: Bearer <访问令牌>`（`dossier tokens create`），"
                '或已登录网页的会话。错误：`{"error": {"code", "message", "field"}}`。'
            ),
            routes=app.routes,
        )
        paths = cached.get("paths", {})
        cached["paths"] = {p: v for p, v in paths.items() if p.startswith(API_PREFIX)}
        cached["components"] = cached.get("components", {})
        cached["components"]["schemas"] = _referenced(
            cached["paths"], cached["components"].get("schemas", {})
        )
        cached["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        cached["security"] = [{"bearer": []}]
        app.state.api_schema = cached
    return cached


def _referenced(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schemas the API's paths use, directly or through other schemas (not the pages')."""
    kept: dict[str, Any] = {}
    text = json.dumps(paths)
    while True:
        more = {
            n: v
            for n, v in schemas.items()
            if n not in kept and f'"#/components/schemas/{n}"' in text
        }
        if not more:
            return kept
        kept |= more
        text += json.dumps(more)


def _meta_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    def openapi(request: Request) -> JSONResponse:
        return JSONResponse(_schema(request.app))

    @router.get("/docs")
    def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(docs_html(_schema(request.app)))

    return router


def install_api(app: FastAPI, settings: Settings) -> None:
    """Mount ``/api/v1`` on ``app``: routers, limits and the OpenAPI schema."""
    app.state.api_limiter = RateLimiter(settings.api_rate_limit_per_minute)
    max_bytes = settings.max_file_mb * 1024 * 1024 + BODY_OVERHEAD_BYTES
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_bytes)
    for module_router in (
        documents.router,
        uploads.router,
        customers.router,
        review.router,
        review.integrity_router,
        tokens.router,
    ):
        app.include_router(module_router, prefix=API_PREFIX)
    app.include_router(_meta_router(), prefix=API_PREFIX)
