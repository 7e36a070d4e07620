"""The audit page's query and rows: Chinese actions, changed fields as before -> after, China time.

Read only. Filters: user (actor), document id, customer (code or exact name: its own events
and its documents'), action code; pages of :data:`AUDIT_PAGE_SIZE`, newest first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from archive.option_lists import EDITABLE_LISTS
from config.taxonomy import Taxonomy
from models.audit import SYSTEM_ACTOR, AuditEvent
from models.customer import Customer
from models.customer_fields import LABELS as CUSTOMER_LABELS
from models.customer_fields import label as customer_field_label
from models.document import Document
from web.field_view import display_value, field_label, field_spec, reason_label
from web.formatting import local_time, ymd

AUDIT_PAGE_SIZE = 50

#: Chinese names of the audit actions the code writes.
ACTION_LABELS = {
    "document.create": "资料入库",
    "document.claim": "领取审核",
    "document.release": "释放处理权",
    "document.correct": "修改识别字段",
    "document.approve": "审核通过",
    "document.reject": "驳回",
    "document.relink": "重新关联客户",
    "document.supersede": "被新版本替换",
    "document.refile": "重新归档",
    "document.update": "更新资料",
    "document.reveal": "查看完整号码",
    "customer.create": "新建客户",
    "customer.update": "修改客户",
    "customer.reveal": "查看完整号码",
    "user.create": "新增用户",
    "user.disable": "停用用户",
    "user.enable": "启用用户",
    "user.set_role": "修改角色",
    "user.set_password": "修改密码",
    "user.set_email": "修改邮箱",
    "notification.send": "发送通知",
    "notification.configure": "修改通知设置",
    "user.login": "登录",
    "user.login_failed": "登录失败",
    "user.login_throttled": "登录受限",
    "user.end_sessions": "结束会话",
    "user.logout": "退出登录",
    "document.auto_relink": "自动重新关联客户",
    "document.customer_fields": "资料字段补全客户信息",
    "document.merge": "随客户合并转移",
    "customer.derive": "更新客户统计字段",
    "customer.merge": "合并重复客户",
    "customer.merge_into": "并入其他客户",
    "customer.tag": "添加客户标签",
    "customer.untag": "移除客户标签",
    "customer.export": "导出客户名单",
    "customer.import": "导入客户名单",
    "customer.dossier_export": "导出客户资料包",
    "api_token.create": "创建 API 令牌",
    "api_token.revoke": "吊销 API 令牌",
    "ingest_run.start": "开始入库批次",
    "ingest_run.finish": "完成入库批次",
    "integrity_run.record": "完整性检查",
    "integrity.relink": "完整性修复：重新关联",
    "integrity.move_back": "完整性修复：移回原位",
    "integrity.lost_found": "完整性修复：移入待认领区",
    "option.add": "添加选项",
    "option.rename": "选项改名",
    "option.retire": "停用选项",
    "option.restore": "恢复选项",
}
#: For an action not listed above: its entity and verb, e.g. ``contact.create`` -> 新建联系人.
ENTITY_LABELS = {
    "document": "资料",
    "customer": "客户",
    "user": "用户",
    "contact": "联系人",
    "follow_up": "跟进记录",
    "cooperation": "合作记录",
    "tag": "标签",
    "ingest_run": "入库批次",
    "integrity_run": "完整性检查",
    "integrity": "完整性修复",
    "quarantine": "隔离文件",
    "notification": "通知",
    "option": "选项",
}
VERB_LABELS = {
    "create": "新建",
    "update": "修改",
    "delete": "删除",
    "add": "添加",
    "remove": "移除",
    "archive": "归档",
    "restore": "恢复",
    "merge": "合并",
    "rename": "重命名",
    "retire": "停用",
    "requeue": "重新送审",
    "discard": "丢弃",
    "upload": "上传",
}
#: Document and user columns that appear in before/after snapshots.
COLUMN_LABELS = {
    "status": "状态",
    "document_type": "资料类型",
    "submitted_date": "提交日期",
    "customer_id": "关联客户",
    "claimed_by": "处理人",
    "claimed_at": "领取时间",
    "claim_expires_at": "处理权到期",
    "pdf_key": "规范化 PDF 位置",
    "original_key": "原始文件位置",
    "reviewed_by": "审核人",
    "reviewed_at": "审核时间",
    "review_reasons": "待审核原因",
    "supersedes_id": "替换的资料",
    "role": "角色",
    "disabled": "已停用",
    "username": "用户名",
    "display_name": "显示名称",
    "is_active": "启用",
    "fields": "识别字段",
    "original_filename": "原始文件名",
    "original_sha256": "原始文件校验和",
    "original_size": "原始文件大小",
    "pdf_sha256": "PDF 校验和",
    "pdf_size": "PDF 大小",
    "page_count": "页数",
    "ingest_run_id": "入库批次",
    "ocr_confidence": "OCR 置信度",
    "ocr_text": "OCR 文字",
    "submitted_by": "提交人",
    "created_by": "创建人",
    "updated_by": "修改人",
    "code": "客户编号",
    "customer_type": "客户类型",
    "list": "选项列表",
    "value": "选项",
    "records_changed": "随之更新的记录数",
    "is_retired": "已停用",
}
EMPTY = "（空）"


@dataclass(frozen=True)
class AuditFilters:
    user: str | None = None
    document: str | None = None
    customer: str | None = None
    action: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> AuditFilters:
        return cls(**{k: (query.get(k) or "").strip() or None for k in cls.__annotations__})

    def params(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


def action_label(code: str) -> str | None:
    """The Chinese name of an audit action, or None when it is not known."""
    if code in ACTION_LABELS:
        return ACTION_LABELS[code]
    entity, _, verb = code.rpartition(".")
    if entity in ENTITY_LABELS and verb in VERB_LABELS:
        return VERB_LABELS[verb] + ENTITY_LABELS[entity]
    return None


def _customer_condition(db: Session, text: str) -> Any:
    customer = db.exec(
        select(Customer).where(or_(Customer.code == text, Customer.name == text))
    ).first()
    if customer is None:
        return and_(AuditEvent.entity_type == "customer", AuditEvent.entity_id == text)
    ids = [
        str(i)
        for i in db.exec(select(Document.id).where(Document.customer_id == customer.id)).all()
    ]
    return or_(
        and_(AuditEvent.entity_type == "customer", AuditEvent.entity_id == customer.code),
        and_(AuditEvent.entity_type == "document", col(AuditEvent.entity_id).in_(ids)),
    )


def _conditions(db: Session, filters: AuditFilters) -> list[Any]:
    where: list[Any] = []
    if filters.user:
        where.append(AuditEvent.actor == filters.user)
    if filters.document:
        where.append(
            and_(
                AuditEvent.entity_type == "document",
                AuditEvent.entity_id == filters.document.lstrip("#"),
            )
        )
    if filters.customer:
        where.append(_customer_condition(db, filters.customer))
    if filters.action:
        where.append(AuditEvent.action == filters.action)
    return where


def audit_page_events(
    db: Session, filters: AuditFilters, *, page: int, size: int = AUDIT_PAGE_SIZE
) -> tuple[list[AuditEvent], int]:
    """One page of matching events, newest first, and how many match in all."""
    where = _conditions(db, filters)
    total = db.exec(select(func.count()).select_from(AuditEvent).where(*where)).one()
    query = (
        select(AuditEvent)
        .where(*where)
        .order_by(col(AuditEvent.id).desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    return list(db.exec(query).all()), int(total)


def filter_choices(db: Session) -> dict[str, list[tuple[str, str]]]:
    """The users and actions present in the trail, for the filter drop-downs."""
    actors = db.exec(select(AuditEvent.actor).distinct().order_by(AuditEvent.actor)).all()
    actions = db.exec(select(AuditEvent.action).distinct()).all()
    labelled = sorted(((a, action_label(a) or "其他操作") for a in actions), key=lambda x: x[1])
    return {"users": [(a, actor_label(a)) for a in actors], "actions": labelled}


def actor_label(actor: str) -> str:
    return "系统" if actor == SYSTEM_ACTOR else actor


# --- changed fields -----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value.get("value") if isinstance(value, Mapping) and "value" in value else value


def _show(key: str, value: Any, *, entity: str, taxonomy: Taxonomy) -> str:
    value = _plain(value)
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if key == "status":
        if entity == "customer":
            return taxonomy.customer_status_label(str(value))
        return taxonomy.document_status_label(str(value))
    if key == "document_type":
        return next((t.label for t in taxonomy.document_types if t.code == value), str(value))
    if key == "customer_type":
        return next((t.label for t in taxonomy.customer_types if t.code == value), str(value))
    if key == "role":
        return taxonomy.roles.get(str(value), str(value))
    if key == "list":
        return EDITABLE_LISTS.get(str(value), str(value))
    if key == "review_reasons" and isinstance(value, list):
        return "、".join(reason_label(taxonomy, str(r)) for r in value)
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if key.endswith("_at") or key.endswith("_expires_at"):
        return local_time(str(value))
    if key.endswith("_date"):
        return ymd(str(value))
    return str(value)


def _key_label(key: str, entity: str) -> str | None:
    if entity == "customer" and key in CUSTOMER_LABELS:
        return CUSTOMER_LABELS[key]
    label = COLUMN_LABELS.get(key) or customer_field_label(key)
    return None if label == key else label


def _empty(value: Any) -> bool:
    return _plain(value) in (None, "", [])


def _field_value(doc_type: str | None, name: str, raw: Any) -> str:
    info = raw if isinstance(raw, Mapping) else {"value": raw}
    return display_value(field_spec(doc_type or "", name), info) or EMPTY


def _field_changes(old: Any, new: Any, *, doc_type: str | None) -> list[dict[str, Any]]:
    olds, news = dict(old or {}), dict(new or {})
    out = []
    for name in dict.fromkeys([*olds, *news]):
        if name.startswith("_") or _plain(olds.get(name)) == _plain(news.get(name)):
            continue
        out.append(
            {
                "label": field_label(doc_type, name),
                "code": name,
                "before": _field_value(doc_type, name, olds.get(name)) if olds else None,
                "after": _field_value(doc_type, name, news.get(name)),
            }
        )
    return out


def _only_keys(*snapshots: Any) -> bool:
    """True for the repository's summary of ``fields`` (``{"keys": [...]}``, no values)."""
    present = [s for s in snapshots if s is not None]
    return bool(present) and all(isinstance(s, Mapping) and set(s) == {"keys"} for s in present)


def _field_keys_change(old: Any, new: Any, *, doc_type: str | None) -> dict[str, Any]:
    """Which fields a change touched, when the trail holds their names only."""

    def names(snapshot: Any) -> list[str]:
        keys = (snapshot or {}).get("keys", [])
        return [str(n) for n in keys if not str(n).startswith("_")]

    def listed(keys: list[str]) -> str:
        return "、".join(field_label(doc_type, n) for n in keys)

    if old is None:
        after = listed(names(new)) or EMPTY
    else:
        added = [n for n in names(new) if n not in names(old)]
        after = "已修改" + (f"，新增{listed(added)}" if added else "")
    return {"label": COLUMN_LABELS["fields"], "code": "fields", "before": None, "after": after}


def changes(event: AuditEvent, taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """The changed values of an event: ``{"label", "code", "before", "after"}`` per field.

    A document's ``fields`` are compared one by one; unchanged values are left out, and so are
    empty values of a record just created. ``before`` is None for a new value.
    """
    before, after = dict(event.before or {}), dict(event.after or {})
    entity, created = event.entity_type, event.before is None
    doc_type = after.get("document_type") or before.get("document_type")
    out = []
    for key in list(dict.fromkeys([*before, *after])):
        old, new = before.get(key), after.get(key)
        if key == "fields" and _only_keys(old, new):
            out.append(_field_keys_change(old, new, doc_type=doc_type))
            continue
        if key == "fields" and isinstance(old or new, Mapping):
            out += _field_changes(old, new, doc_type=doc_type)
            continue
        if (key in before and key in after and old == new) or (created and _empty(new)):
            continue
        shown_before = _show(key, old, entity=entity, taxonomy=taxonomy) if key in before else None
        shown_after = _show(key, new, entity=entity, taxonomy=taxonomy) if key in after else None
        if shown_before is not None and shown_before == shown_after:
            continue  # differs below what the page shows (seconds of a time)
        out.append(
            {
                "label": _key_label(key, entity),
                "code": key,
                "before": shown_before,
                "after": shown_after,
            }
        )
    return out


def _target(event: AuditEvent) -> dict[str, str | None]:
    kind, ident = event.entity_type, event.entity_id
    url = {"document": f"/documents/{ident}", "customer": f"/customers/{ident}",
           "notification": "/notifications"}.get(kind)  # fmt: skip
    prefix = "#" if kind == "document" else ""
    return {"label": ENTITY_LABELS.get(kind, "对象"), "id": f"{prefix}{ident}", "url": url}


def event_row(event: AuditEvent, taxonomy: Taxonomy) -> dict[str, Any]:
    """One row of the audit page."""
    return {
        "id": event.id,
        "at": local_time(event.at),
        "actor": actor_label(event.actor),
        "action": event.action,
        "action_label": action_label(event.action),
        "target": _target(event),
        "changes": changes(event, taxonomy),
        "detail": event.detail,
    }
