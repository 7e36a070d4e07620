"""Notices beyond expiry, each to the people it concerns (by default, below; an admin may choose
others on the web: :func:`app.notify.config.recipients_for`), each kind only while switched on:

- a document rejected (已驳回) -> its submitter;
- a file quarantined -> its submitter when that is a user with an address, else the admins
  (a duplicate is not announced: the intake's duplicate check is doing its job);
- an integrity run with critical findings first seen in it -> the admins;
- a customer still missing a required document the checklist days in effect after it was
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
from app.notify.config import NotifyConfig, notify_config, recipients_for
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
from config.clock import local_time
from ingest.quarantine import QuarantineEntry, list_quarantine, reason_label
from models.customer import Customer
from models.db import utcnow
from models.document import Document

_LINK = "详情请登录资料库查看。"


def notify_all(ctx: AppContext, *, now: datetime | None = None) -> NotifyReport:
    """Announce every current event not yet announced: expiry and the events above."""
    return deliver(ctx, [*expiry_notices(ctx, now=now), *event_notices(ctx, now=now)], now=now)


def event_notices(ctx: AppContext, *, now: datetime | None = None) -> list[Notice]:
    """The notices of the module's four events, as of ``now``."""
    now = now or utcnow()
    since = now - timedelta(days=ctx.settings.notify_lookback_days)
    with ctx.session() as session:
        c = notify_config(session, ctx.settings)
        notices = [
            _rejected(ctx, session, c, d)
            for d in (rejected_documents(session, since=since) if c.on("rejected") else ())
        ]
        notices += [
            _quarantined(session, c, entry)
            for entry in (list_quarantine(ctx.settings.quarantine_dir or "") if c.on("quarantined")
                          else ())
            if entry.reason != "duplicate" and _aware(entry.quarantined_at) >= since
        ]  # fmt: skip
        if c.on("integrity"):
            notices += [_integrity(session, c, run) for run in critical_runs(session, since=since)]
        if c.checklist_days and c.on("checklist"):
            created_before = now - timedelta(days=c.checklist_days)
            notices += [
                _checklist(ctx, session, c, item)
                for item in incomplete_checklists(
                    session, taxonomy=ctx.taxonomy, created_before=created_before
                )
            ]
    return notices


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _customer_text(customer: Customer | None) -> str:
    return f"客户 {customer.name}（{customer.code}）" if customer else "未关联客户"


def _rejected(ctx: AppContext, session: Session, c: NotifyConfig, doc: Document) -> Notice:
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
        recipients=recipients_for(
            session, c, "rejected", customer=customer, submitted_by=doc.submitted_by
        ),
        document_id=doc.id,
    )


def _quarantined(session: Session, c: NotifyConfig, entry: QuarantineEntry) -> Notice:
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
        recipients=recipients_for(session, c, "quarantined", submitted_by=entry.submitted_by),
    )


def _integrity(session: Session, c: NotifyConfig, item: CriticalRun) -> Notice:
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
        recipients=recipients_for(session, c, "integrity"),
    )


def _checklist(
    ctx: AppContext, session: Session, c: NotifyConfig, item: IncompleteChecklist
) -> Notice:
    customer, days = item.customer, c.checklist_days
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
        recipients=recipients_for(session, c, "checklist", customer=customer),
    )


__all__ = ["event_notices", "notify_all"]
