"""Full-text search over OCR text and fields (one service function for SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from archive.search import search_documents
from web.deps import Context, CurrentUser, DbSession
from web.views import render

router = APIRouter()

SEARCH_LIMIT = 100


@router.get("/search")
def search_page(request: Request, db: DbSession, user: CurrentUser, ctx: Context,
                q: str = "") -> Response:
    hits = search_documents(db, query=q, user=user, limit=SEARCH_LIMIT) if q.strip() else []
    rows = [
        {
            "id": h.document_id,
            "type_label": ctx.taxonomy.document_type(h.document_type).label,
            "customer_name": h.customer_name,
            "status_label": ctx.taxonomy.document_status_label(h.status),
            "snippet": h.snippet,
        }
        for h in hits
    ]
    return render(request, "search.html", user=user, query=q.strip(), hits=rows)
