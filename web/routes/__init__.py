"""HTTP routes of the review UI, one module per page group."""

from __future__ import annotations

from fastapi import FastAPI


def register_routes(app: FastAPI) -> None:
    """Attach every router to ``app``."""
    from web.routes import admin, auth, customers, documents, queue, search, upload

    for module in (auth, queue, customers, documents, search, upload, admin):
        app.include_router(module.router)
