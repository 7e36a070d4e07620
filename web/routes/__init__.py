"""HTTP routes of the review UI, one module per page group."""

from __future__ import annotations

from fastapi import FastAPI


def register_routes(app: FastAPI) -> None:
    """Attach every router to ``app``."""
    from web.routes import (
        admin,
        auth,
        customers,
        documents,
        quarantine,
        queue,
        search,
        upload,
    )

    for module in (auth, queue, customers, documents, search, upload, quarantine, admin):
        app.include_router(module.router)
