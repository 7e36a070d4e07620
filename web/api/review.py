"""``/api/v1/review`` (queue, claim, approve, reject, correct, relink) and ``/api/v1/integrity``.

The decisions are ``archive.review``'s public functions, as in the web UI and ``dossier
review``: the same roles (reviewers and admins), claims, transitions and audit events. A
document the caller may not see is 404 before anything else is said about it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.records import document_record, queue_record
from archive import review
from archive.integrity.runs import finding_record
from archive.permissions import Action, require
from models import repo
from models.runs import IntegrityRun
from models.user import User
from web.api.deps import ApiUser
from web.deps import Context, DbSession
from web.errors import PageNotFoundError
from web.params import PathId
from web.routes.documents import visible_document

router = APIRouter(tags=["review"])
integrity_router = APIRouter(tags=["integrity"])


class Corrections(BaseModel):
    """Corrections to a document: field values, its type, its submitted date."""

    fields: dict[str, Any] | None = Field(default=None, description="字段名 → 更正后的值")
    document_type: str | None = Field(default=None, description="资料类型代码")
    submitted_date: date | None = Field(default=None, description="提交日期")


class Rejection(BaseModel):
    reason: str = Field(description="驳回原因（中文）")


class Relink(BaseModel):
    customer: str = Field(description="客户编号")


def _decided(db: DbSession, ctx: Context, user: User, document_id: int) -> dict[str, Any]:
    document, customer = visible_document(db, user=user, document_id=document_id)
    return document_record(document, customer=customer, taxonomy=ctx.taxonomy)


def _visible(db: DbSession, user: User, document_id: int) -> None:
    require(user, Action.VIEW)
    visible_document(db, user=user, document_id=document_id)


@router.get("/review/queue", summary="待审核队列")
def queue(
    db: DbSession,
    user: ApiUser,
    ctx: Context,
    reason: str | None = None,
    document_type: str | None = None,
    customer_type: str | None = None,
    owner: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    require(user, Action.VIEW)
    page = review.review_queue(
        db,
        user=user,
        reason=reason,
        document_type=document_type,
        customer_type=customer_type,
        owner=owner,
        limit=limit,
        offset=offset,
        taxonomy=ctx.taxonomy,
    )
    return {
        "items": [queue_record(item, taxonomy=ctx.taxonomy) for item in page.items],
        "total": page.total,
        "counts_by_reason": page.counts_by_reason,
    }


@router.post("/review/{document_id}/claim", summary="认领（审核人）")
def claim(document_id: PathId, db: DbSession, user: ApiUser, ctx: Context) -> dict[str, Any]:
    _visible(db, user, document_id)
    review.claim(db, document_id=document_id, user=user)
    db.commit()
    return _decided(db, ctx, user, document_id)


@router.post("/review/{document_id}/approve", summary="通过（可附更正）")
def approve(
    document_id: PathId,
    db: DbSession,
    user: ApiUser,
    ctx: Context,
    corrections: Corrections | None = None,
) -> dict[str, Any]:
    _visible(db, user, document_id)
    changes = corrections.model_dump(exclude_none=True) if corrections else None
    review.approve(
        db,
        ctx.store,
        document_id=document_id,
        user=user,
        taxonomy=ctx.taxonomy,
        corrections=changes or None,
    )
    db.commit()
    return _decided(db, ctx, user, document_id)


@router.post("/review/{document_id}/reject", summary="驳回（须填原因）")
def reject(
    document_id: PathId, body: Rejection, db: DbSession, user: ApiUser, ctx: Context
) -> dict[str, Any]:
    _visible(db, user, document_id)
    review.reject(db, document_id=document_id, user=user, reason=body.reason)
    db.commit()
    return _decided(db, ctx, user, document_id)


@router.post("/review/{document_id}/correct", summary="更正字段、类型或日期")
def correct(
    document_id: PathId, body: Corrections, db: DbSession, user: ApiUser, ctx: Context
) -> dict[str, Any]:
    _visible(db, user, document_id)
    review.correct(
        db,
        ctx.store,
        document_id=document_id,
        user=user,
        taxonomy=ctx.taxonomy,
        fields=body.fields,
        document_type=body.document_type,
        submitted_date=body.submitted_date,
    )
    db.commit()
    return _decided(db, ctx, user, document_id)


@router.post("/review/{document_id}/relink", summary="关联到客户")
def relink(
    document_id: PathId, body: Relink, db: DbSession, user: ApiUser, ctx: Context
) -> dict[str, Any]:
    _visible(db, user, document_id)
    review.relink(
        db,
        ctx.store,
        document_id=document_id,
        customer_code=body.customer,
        user=user,
        taxonomy=ctx.taxonomy,
    )
    db.commit()
    return _decided(db, ctx, user, document_id)


# --- integrity runs ---------------------------------------------------------------------------


def run_record(run: IntegrityRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "mode": run.mode,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "counts": dict(run.counts or {}),
    }


@integrity_router.get("/integrity/runs", summary="完整性检查记录")
def integrity_runs(
    db: DbSession, user: ApiUser, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    require(user, Action.VIEW_AUDIT)
    return {"items": [run_record(r) for r in repo.list_integrity_runs(db, limit=limit)]}


@integrity_router.get("/integrity/runs/latest", summary="最近一次完整性检查")
def latest_run(db: DbSession, user: ApiUser) -> dict[str, Any]:
    require(user, Action.VIEW_AUDIT)
    runs = repo.list_integrity_runs(db, limit=1)
    if not runs:
        raise PageNotFoundError("尚无完整性检查记录")
    return run_record(runs[0])


@integrity_router.get("/integrity/runs/{run_id}/findings", summary="一次检查的发现")
def findings(
    run_id: str, db: DbSession, user: ApiUser, severity: str | None = None
) -> dict[str, Any]:
    require(user, Action.VIEW_AUDIT)
    run = repo.get_integrity_run(db, run_id=run_id[:36])
    if run is None:
        raise PageNotFoundError(f"完整性检查 {run_id} 不存在")
    rows = repo.list_integrity_findings(db, run_id=run.id, severity=severity)
    return {"run": run_record(run), "items": [finding_record(r) for r in rows]}
