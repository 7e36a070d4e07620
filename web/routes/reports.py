"""The monthly upkeep report (``/reports/upkeep``, 维护报告) for reviewers and administrators.

The sections come from :func:`archive.upkeep.upkeep_report` (the CLI's ``dossier report
upkeep``); the XLSX is :func:`archive.upkeep.write_upkeep_xlsx`, one sheet per section.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from archive.upkeep import COLUMN_LABELS, SECTIONS, upkeep_report, write_upkeep_xlsx
from models.user import Role, User
from web.deps import Context, DbSession, require_roles
from web.exchange_view import download, stamp, temp_folder
from web.views import render

router = APIRouter()

Reader = Annotated[User, Depends(require_roles(Role.REVIEWER, Role.ADMIN))]
Months = Annotated[int, Query(ge=1, le=120)]
Days = Annotated[int, Query(ge=1, le=3650)]
ExpiringDays = Annotated[int, Query(ge=0, le=3650)]
#: Keys whose values name customers: shown as links to their pages.
CUSTOMER_KEYS = ("code", "customers")


def _report(db: Session, ctx: Context, user: User, **limits: int) -> dict[str, list[dict]]:
    return upkeep_report(db, ctx.settings, user, **limits)


def _section(key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(rows[0]) if rows else []
    return {
        "key": key,
        "label": SECTIONS[key],
        "columns": [(c, COLUMN_LABELS.get(c, c)) for c in columns],
        "rows": [
            {c: (str(r[c]).split("、") if c == "customers" else r[c]) for c in columns}
            for r in rows
        ],
    }


@router.get("/reports/upkeep")
def upkeep_page(
    request: Request,
    db: DbSession,
    user: Reader,
    ctx: Context,
    months: Months = 12,
    days: Days = 90,
    expiring_days: ExpiringDays = 30,
) -> Response:
    limits = {"months": months, "days": days, "expiring_days": expiring_days}
    report = _report(db, ctx, user, **limits)
    return render(
        request,
        "upkeep.html",
        user=user,
        limits=limits,
        sections=[_section(k, rows) for k, rows in report.items()],
        total=sum(len(rows) for rows in report.values()),
    )


@router.get("/reports/upkeep.xlsx")
def upkeep_xlsx(
    db: DbSession,
    user: Reader,
    ctx: Context,
    months: Months = 12,
    days: Days = 90,
    expiring_days: ExpiringDays = 30,
) -> Response:
    report = _report(db, ctx, user, months=months, days=days, expiring_days=expiring_days)
    folder = temp_folder(ctx.settings)
    output = folder / "upkeep.xlsx"
    write_upkeep_xlsx(output, report)
    return download(output, f"维护报告-{stamp()}.xlsx", cleanup=folder)
