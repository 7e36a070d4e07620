"""HTTP routes of the review UI, one module per page group."""

from __future__ import annotations

from fastapi import FastAPI


def register_routes(app: FastAPI) -> None:
    """Attach every router to ``app``."""
    from web.routes import (
        admin,
        auth,
        customer_parts,
        customers,
        documents,
        exchange,
        notifications,
        options,
        quarantine,
        queue,
        reports,
        search,
        tags,
        upload,
    )

    for module in (
        auth,
        queue,
        customer_parts,
        exchange,
        customers,
        documents,
        search,
        reports,
        upload,
        quarantine,
        admin,
        tags,
        notifications,
        options,
    ):
        app.include_router(module.router)
