"""Notices beyond expiry, each to the people it concerns (``archive.recipients``):

- a document rejected (已驳回) -> its submitter;
- a file quarantined -> its submitter when that is a user with an address, else the admins
  (a duplicate is not announced: the intake's duplicate check is doing its job);
- an integrity run with critical findings first seen in it -> the admins;
- a customer still missing a required document ``checklist_notice_days`` after it was
  created -> its owner (负责人), once per set of missing types.

Rejections, quarantined files and runs older than ``notify_lookback_days`` are not announced.
:func:`notify_all` sends these and the expiry reminders through the one delivery path
(:func:`app.notify.dispatch.deliver`).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from app.context import AppContext
from app.notify.dispatch import SIGNATURE, Notice, NotifyReport, deliver
from app.notify.expiry import expiry_notices
from archive.integrity import KINDS
from archive.notice_events import (
    CriticalRun,
    IncompleteChecklist,
    critical_runs,
    incomplete_checklists,
    rejected_documents,
)
from archive.recipients import owner_emails, role_emails, submitter_emails
from config.clock import local_time
from ingest.quarantine import QuarantineEntry, list_quarantine, reason_label
from models.customer import Customer
from models.db import utcnow
from models.document import Document
from models.user import Role

_LINK = "详情请登录资料库查看。"


def notify_all(ctx: AppContext, *, now: datetime | None = None) -> NotifyReport:
    """Announce every current event not yet announced: expiry and the events above."""
    return deliver(ctx, [*expiry_notices(ctx, now=now), *event_notices(ctx, now=now)], now=now)


def event_notices(ctx: AppContext, *, now: datetime | None = None) -> list[Notice]:
    """The notices of the module's four events, as of ``now``."""
    now = now or utcnow()
    since = now - timedelta(days=ctx.settings.notify_lookback_days)
    with ctx.session() as session:
        notices = [_rejected(ctx, session, d) for d in rejected_documents(session, since=since)]
        notices += [
            _quarantined(session, entry)
            for entry in list_quarantine(ctx.settings.quarantine_dir or "")
            if entry.reason != "duplicate" and _aware(entry.quarantined_at) >= since
        ]
        notices += [_integrity(session, run) for run in critical_runs(session, since=since)]
        days = ctx.settings.checklist_notice_days
        if days:
            created_before = now - timedelta(days=days)
            notices += [
                _checklist(ctx, session, item, days)
                for item in incomplete_checklists(
                    session, taxonomy=ctx.taxonomy, created_before=created_before
                )
            ]
    return notices


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _customer_text(customer: Customer | None) -> str:
    return f"客户 {customer.name}（{customer.code}）" if customer else "未关联客户"


def _rejected(ctx: AppContext, session: Session, doc: Document) -> Notice:
    customer = session.get(Customer, doc.customer_id) if doc.customer_id else None
    label = ctx.taxonomy.document_type(doc.document_type).label
    reason = str(((doc.fields or {}).get("_rejection") or {}).get("reason") or "未填写")
    subject = f"【资料被驳回】{_customer_text(customer)}的{label}（资料 #{doc.id}）已被驳回"
    body = (
        f"您提交的文件“{doc.original_filename}”（{label}，资料 #{doc.id}）已被审核人驳回。\n"
        f"驳回原因：{reason}\n请按原因补正后重新上传。{_LINK}\n\n{SIGNATURE}\n"
    )
    return Notice(
        key=f"rejected:{doc.id}",
        kind="rejected",
        subject=subject,
        body=body,
        payload={
            "event": "document_rejected",
            "document_id": doc.id,
            "document_type": doc.document_type,
            "customer_code": customer.code if customer else None,
            "reason": reason,
            "submitted_by": doc.submitted_by,
        },
        recipients=tuple(submitter_emails(session, doc.submitted_by)),
        document_id=doc.id,
    )


def _quarantined(session: Session, entry: QuarantineEntry) -> Notice:
    record = entry.record or {}
    name = str(record.get("original_name") or (entry.path.name if entry.path else entry.ref))
    why = reason_label(entry.reason, entry.message)
    when = entry.quarantined_at
    ident = entry.sha256 or hashlib.sha256(entry.ref.encode()).hexdigest()
    subject = f"【文件被隔离】{name}：{why}"
    body = (
        f"文件“{name}”于 {local_time(when)} 被隔离，未能入库。\n原因：{why}\n"
        f"提交人：{entry.submitted_by or '未知'}\n"
        f"请检查文件后重新提交，或由管理员在“隔离区”页面处理。\n\n{SIGNATURE}\n"
    )
    return Notice(
        key=f"quarantine:{ident[:64]}:{when.strftime('%Y%m%dT%H%M%S')}",
        kind="quarantined",
        subject=subject,
        body=body,
        payload={
            "event": "file_quarantined",
            "ref": entry.ref,
            "reason": entry.reason,
            "message": entry.message,
            "sha256": entry.sha256,
            "submitted_by": entry.submitted_by,
            "quarantined_at": when.isoformat(),
        },
        recipients=tuple(
            submitter_emails(session, entry.submitted_by) or role_emails(session, Role.ADMIN)
        ),
    )


def _integrity(session: Session, item: CriticalRun) -> Notice:
    run, findings = item.run, item.findings
    kinds: dict[str, int] = {}
    for f in findings:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    lines = [f"- {KINDS[k][1] if k in KINDS else k}：{n} 项" for k, n in kinds.items()]
    subject = f"【完整性检查】发现 {len(findings)} 项严重问题"
    body = (
        f"完整性检查（{local_time(run.started_at)} 开始）发现新的严重问题：\n"
        + "\n".join(lines)
        + f"\n\n请尽快在“完整性检查”中查看并处理（dossier check）。\n\n{SIGNATURE}\n"
    )
    return Notice(
        key=f"integrity:{run.id}",
        kind="integrity",
        subject=subject,
        body=body,
        payload={
            "event": "integrity_critical",
            "run_id": run.id,
            "critical": len(findings),
            "kinds": kinds,
        },
        recipients=tuple(role_emails(session, Role.ADMIN)),
    )


def _checklist(ctx: AppContext, session: Session, item: IncompleteChecklist, days: int) -> Notice:
    customer = item.customer
    labels = "、".join(ctx.taxonomy.document_type(t).label for t in item.missing)
    subject = f"【资料清单未齐】{_customer_text(customer)}仍缺少{labels}"
    body = (
        f"{_customer_text(customer)}建档已超过 {days} 天，资料清单仍缺少：{labels}。\n"
        f"请联系客户提供并上传到资料库。\n\n{SIGNATURE}（缺少的资料不变时不再重复提醒）\n"
    )
    return Notice(
        key=f"checklist:{customer.id}:{'+'.join(item.missing)}"[:200],
        kind="checklist",
        subject=subject,
        body=body,
        payload={
            "event": "checklist_incomplete",
            "customer_code": customer.code,
            "missing": list(item.missing),
            "days": days,
        },
        recipients=tuple(owner_emails(session, customer)),
    )


__all__ = ["event_notices", "notify_all"]
