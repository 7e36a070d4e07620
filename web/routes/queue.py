"""The review queue (待审核队列) and "next / previous in queue" navigation."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select

from archive import review
from config.taxonomy import Taxonomy
from models.db import utcnow
from models.user import Role, User
from web.deps import Context, CurrentUser, DbSession
from web.params import MAX_ID
from web.views import local_time, reason_label, render

router = APIRouter()

PAGE_SIZE = 50
NAV_WINDOW = 200  # how far "previous in queue" looks back
_PARAM_OF = {"reason": "reason", "document_type": "type", "customer_type": "customer_type",
             "owner": "owner"}


def queue_filters(request: Request) -> dict[str, str | None]:
    """The queue's filters from the query string (empty values mean "all")."""
    q = request.query_params
    return {name: q.get(param) or None for name, param in _PARAM_OF.items()}


def filters_from_query(query: str) -> dict[str, str | None]:
    """The same filters from a stored query string (``?type=...``)."""
    from urllib.parse import parse_qs

    parsed = parse_qs(query.lstrip("?"))
    return {name: (parsed.get(param) or [None])[0] or None for name, param in _PARAM_OF.items()}


def filters_query(filters: dict[str, str | None], **extra: Any) -> str:
    """A query string (``?...`` or empty) for the given filters plus extra parameters."""
    params = {_PARAM_OF[k]: v for k, v in filters.items() if v}
    params.update({k: v for k, v in extra.items() if v is not None})
    return ("?" + urlencode(params)) if params else ""


def _row(item: review.QueueItem, *, taxonomy: Taxonomy, now: Any) -> dict[str, Any]:
    live = item.claimed_by and item.claim_expires_at is not None and item.claim_expires_at > now
    return {
        "id": item.document_id,
        "url": f"/documents/{item.document_id}",
        "thumbnail": f"/documents/{item.document_id}/thumbnail.png" if item.page_count else None,
        "type_label": taxonomy.document_type(item.document_type).label,
        "customer_name": item.customer_name,
        "customer_code": item.customer_code,
        "customer_type_label": (
            taxonomy.customer_type(item.customer_type).label if item.customer_type else ""
        ),
        "submitted_date": item.submitted_date.isoformat(),
        "created_at": local_time(item.created_at),
        "reasons": [reason_label(taxonomy, r) for r in item.review_reasons],
        "anomaly": item.is_anomaly,
        "status_label": taxonomy.document_status_label(item.status),
        "claimed_by": item.claimed_by if live else None,
    }


def _owners(db: Session) -> list[User]:
    return list(db.exec(select(User).order_by(col(User.username))).all())


def _int(value: str | None, default: int) -> int:
    """A query-string integer in 0..MAX_ID, else ``default`` (never a value SQL cannot hold)."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if 0 <= number <= MAX_ID else default


@router.get("/")
def home(user: CurrentUser) -> Response:
    """The start page: the customer list for sales users, the review queue for the others."""
    target = "/customers" if user.role == Role.SALES.value else "/queue"
    return RedirectResponse(target, status_code=303)


@router.get("/queue")
def queue_page(request: Request, db: DbSession, user: CurrentUser, ctx: Context) -> Response:
    filters = queue_filters(request)
    page = max(1, _int(request.query_params.get("page"), 1))
    result = review.review_queue(
        db, user=user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, taxonomy=ctx.taxonomy,
        **filters,
    )
    now = utcnow()

    def filter_url(**changes: Any) -> str:
        page_no = changes.pop("page", None)
        return "/queue" + filters_query({**filters, **changes}, page=page_no)

    return render(
        request, "queue.html", user=user, filters=filters, page=page,
        pages=max(1, math.ceil(result.total / PAGE_SIZE)), total=result.total,
        rows=[_row(i, taxonomy=ctx.taxonomy, now=now) for i in result.items],
        counts=sorted(result.counts_by_reason.items(), key=lambda kv: (-kv[1], kv[0])),
        owners=_owners(db), filter_url=filter_url,
    )


def previous_in_queue(
    db: Session, *, user: User, filters: dict[str, str | None], document_id: int
) -> int | None:
    """The id just before ``document_id`` in the queue (None when first or not found)."""
    result = review.review_queue(db, user=user, limit=NAV_WINDOW, offset=0, **filters)
    ids = [i.document_id for i in result.items]
    if document_id not in ids:
        return None
    pos = ids.index(document_id)
    return ids[pos - 1] if pos > 0 else None


def following_in_queue(
    db: Session, *, user: User, filters: dict[str, str | None], document_id: int
) -> int | None:
    """The id after ``document_id`` in the queue that ``user`` can work on.

    When ``document_id`` has left the queue (just decided), the first workable one.
    """
    result = review.review_queue(db, user=user, limit=NAV_WINDOW, offset=0, **filters)
    ids = [i.document_id for i in result.items]
    skip = ids[: ids.index(document_id) + 1] if document_id in ids else [document_id]
    return review.next_in_queue(db, user=user, exclude=skip, **filters)


@router.get("/queue/next")
def queue_next(request: Request, db: DbSession, user: CurrentUser) -> Response:
    """Go to the document after ``after`` in the queue (or back to the queue when none)."""
    filters = queue_filters(request)
    after = _int(request.query_params.get("after"), 0)
    target = following_in_queue(db, user=user, filters=filters, document_id=after)
    return _go(target, filters)


@router.get("/queue/prev")
def queue_prev(request: Request, db: DbSession, user: CurrentUser) -> Response:
    """Go to the document before ``before`` in the queue."""
    filters = queue_filters(request)
    before = _int(request.query_params.get("before"), 0)
    return _go(previous_in_queue(db, user=user, filters=filters, document_id=before), filters)


def _go(target: int | None, filters: dict[str, str | None]) -> Response:
    if target is None:
        return RedirectResponse("/queue" + filters_query(filters), status_code=303)
    return RedirectResponse(f"/documents/{target}" + filters_query(filters), status_code=303)
