"""The monthly upkeep report (issue 17, item 5): what a data administrator tidies each month.

Sections, each a list of plain rows (the CLI prints them, ``--json`` emits them, the XLSX has a
sheet per section), over the customers the viewer may see:

- ``duplicates``: customers whose names are the same after normalization (有限公司, brackets,
  spaces; :func:`archive.customers.similarity_key`) or who share a phone number;
- ``stale_contacts``: contact persons not updated in ``months`` months;
- ``no_follow_up``: customers (not 流失) without a follow-up in ``days`` days;
- ``expired`` / ``expiring``: customers with a license or ID whose validity has ended / ends
  within ``expiring_days`` days;
- ``incomplete``: customers missing a document their checklist requires;
- ``tags``: tags used by under 5% of customers and tags contradicting a field (reviewers and
  administrators only, as :func:`archive.tags.tag_report`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from archive.customer_query import complete_condition, expiring_condition
from archive.customers import similarity_key
from archive.permissions import sees_everything, visible_customer_filter
from archive.tags import tag_report
from config.clock import china_date
from config.settings import Settings
from models.contact import Contact
from models.customer import Customer, CustomerStatus
from models.db import utcnow
from models.followup import FollowUp
from models.user import User

SECTIONS = {
    "duplicates": "疑似重复客户",
    "stale_contacts": "联系人信息久未更新",
    "no_follow_up": "久未跟进的客户",
    "expired": "证照已过期",
    "expiring": "证照即将过期",
    "incomplete": "资料清单不完整",
    "tags": "待复核的标签",
}

#: Chinese column headings of the rows' keys (the CLI table and the XLSX).
COLUMN_LABELS = {"code": "客户编号", "name": "客户名称", "status": "客户状态", "contact": "联系人",
                 "updated_at": "更新时间", "by": "重复依据", "customers": "客户",
                 "tag": "标签", "problem": "问题"}  # fmt: skip


def _brief(c: Customer) -> dict[str, Any]:
    return {"code": c.code, "name": c.name}


def _duplicates(session: Session, visible: Any) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Customer.code, Customer.name, Customer.phone).where(visible).order_by(Customer.code)
    ).all()
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for code, name, phone in rows:
        groups[("name", similarity_key(name))].append(code)
        if phone:
            groups[("phone", phone)].append(code)
    return [
        {"by": "名称" if kind == "name" else "联系方式", "customers": "、".join(codes)}
        for (kind, _), codes in groups.items()
        if len(codes) > 1
    ]


def _stale_contacts(session: Session, visible: Any, months: int) -> list[dict[str, Any]]:
    cutoff = utcnow() - timedelta(days=30 * months)
    rows = session.exec(
        select(Contact, Customer)
        .join(Customer, col(Customer.id) == col(Contact.customer_id))
        .where(visible, col(Contact.updated_at) < cutoff)
        .order_by(col(Customer.code), col(Contact.id))
    ).all()
    return [_brief(c) | {"contact": k.name, "updated_at": k.updated_at.date().isoformat()}
            for k, c in rows]  # fmt: skip


def _no_follow_up(
    session: Session, settings: Settings, visible: Any, days: int
) -> list[dict[str, Any]]:
    cutoff = utcnow() - timedelta(days=days)
    recent = sa.exists().where(
        col(FollowUp.customer_id) == col(Customer.id), col(FollowUp.followed_at) >= cutoff
    )
    rows = session.exec(
        select(Customer)
        .where(visible, col(Customer.status) != CustomerStatus.LOST.value, ~recent)
        .order_by(col(Customer.code))
    ).all()
    labels = settings.taxonomy.customer_statuses
    return [_brief(c) | {"status": labels.get(c.status, c.status)} for c in rows]


def _customers(session: Session, *conditions: Any) -> list[dict[str, Any]]:
    rows = session.exec(select(Customer).where(*conditions).order_by(col(Customer.code))).all()
    return [_brief(c) for c in rows]


def _tags(session: Session, settings: Settings, actor: User) -> list[dict[str, Any]]:
    if not sees_everything(actor):
        return []
    report = tag_report(session, settings, actor)
    rare = [
        {"tag": r["tag"], "problem": f"使用率低（{r['customers']} 个客户）"} for r in report.rare
    ]
    wrong = [{"tag": c["tag"], "problem": f"与客户 {c['customer']} 的 {c['field']} 不符"}
             for c in report.contradictions]  # fmt: skip
    return rare + wrong


def upkeep_report(
    session: Session,
    settings: Settings,
    actor: User,
    *,
    months: int = 12,
    days: int = 90,
    expiring_days: int = 30,
    today: date | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The report's sections (see the module docstring), each a list of rows."""
    today = today or china_date()
    visible = visible_customer_filter(actor)
    expired = expiring_condition(today - timedelta(days=1))
    return {
        "duplicates": _duplicates(session, visible),
        "stale_contacts": _stale_contacts(session, visible, months),
        "no_follow_up": _no_follow_up(session, settings, visible, days),
        "expired": _customers(session, visible, expired),
        "expiring": _customers(
            session, visible, expiring_condition(today + timedelta(days=expiring_days)), ~expired
        ),
        "incomplete": _customers(session, visible, ~complete_condition(settings.taxonomy)),
        "tags": _tags(session, settings, actor),
    }


def write_upkeep_xlsx(path: Any, report: dict[str, list[dict[str, Any]]]) -> None:
    """One sheet per section, its rows under their keys."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for key, rows in report.items():
        sheet = book.create_sheet(SECTIONS[key])
        columns = list(rows[0]) if rows else []
        sheet.append([COLUMN_LABELS.get(c, c) for c in columns] or ["（无）"])
        for row in rows:
            sheet.append([str(row.get(c, "")) for c in columns])
    book.save(path)
