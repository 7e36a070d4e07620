"""Chinese labels for what the CLI prints for people (JSON keeps the English codes).

The labels themselves come from their one home (the taxonomy for document types, statuses and
review reasons; the understanding config for field labels; the quarantine reasons in
``ingest.quarantine``); this module only puts them together for the terminal.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from cli.output import console
from config.clock import local_time
from config.taxonomy import Taxonomy
from ingest.extraction_rules import field_labels
from models.customer_fields import label as customer_label
from models.validation import FIELD_LABELS

#: What happened to one file in ``dossier ingest``.
OUTCOME_LABELS = {
    "archived": "已归档",
    "needs_review": "待审核",
    "quarantined": "已隔离",
    "duplicate": "重复文件",
    "recovered": "已恢复",
    "retry": "稍后重试",
}

#: ``dossier review show``: the record's keys as people read them, in this order.
RECORD_LABELS = {
    "id": "资料编号",
    "status_label": "状态",
    "document_type_label": "资料类型",
    "customer": "客户",
    "submitted_date": "提交日期",
    "original_filename": "原始文件名",
    "original_sha256": "原始文件 SHA-256",
    "original_size": "原始文件大小（字节）",
    "original_key": "原始文件位置",
    "pdf_key": "规范化 PDF 位置",
    "pdf_sha256": "PDF SHA-256",
    "pdf_size": "PDF 大小（字节）",
    "page_count": "页数",
    "ocr_confidence": "OCR 置信度",
    "review_reasons": "待审核原因",
    "supersedes_id": "替换的旧版本",
    "ingest_run_id": "入库批次",
    "reviewed_by": "审核人",
    "reviewed_at": "审核时间",
    "created_at": "入库时间",
    "updated_at": "更新时间",
    "allowed_actions": "可执行操作",
    "fields": "识别字段",
}


def field_label(document_type: str, name: str) -> str:
    """A field's Chinese label (the understanding config first, then the shared field labels)."""
    return field_labels(document_type).get(name) or FIELD_LABELS.get(name, name)


def reasons_text(taxonomy: Taxonomy, codes: list[str] | tuple[str, ...]) -> str:
    """Review reasons as Chinese labels, ``、``-separated (the routine 二次核验 left out)."""
    return "、".join(taxonomy.reason_label(c) for c in codes if c != "second_check")


def _value_text(key: str, value: Any, action_labels: dict[str, str]) -> str:
    if value is None or value == "":
        return "—"
    if key == "customer":
        return f"{value['name']}（{value['code']}）"
    if key == "review_reasons":
        return "、".join(r["label"] for r in value) or "—"
    if key.endswith("_at"):
        return local_time(value) + "（北京时间）"
    if key == "allowed_actions":
        return "、".join(action_labels.get(a, a) for a in value) or "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def print_document_record(record: dict[str, Any], *, action_labels: dict[str, str]) -> None:
    """A document record (``app.records.document_record``) as labelled Chinese lines."""
    for key, label in RECORD_LABELS.items():
        if key not in record or key == "fields":
            continue
        typer.echo(f"{label}：{_value_text(key, record[key], action_labels)}")
    fields = {k: v for k, v in (record.get("fields") or {}).items() if not k.startswith("_")}
    if fields:
        typer.echo(f"{RECORD_LABELS['fields']}：")
    for name, info in fields.items():
        value = info.get("value") if isinstance(info, dict) else info
        typer.echo(f"  {field_label(record['document_type'], name)}：{value if value else '—'}")


def print_document_tables(record: dict[str, Any], *, taxonomy: Taxonomy) -> None:
    """``dossier documents show``: the record and its fields as two tables with Chinese labels."""
    table = Table(title=f"资料 #{record['id']}", show_header=False)
    for key, label in RECORD_LABELS.items():
        if key in record and key not in ("fields", "review_reasons", "allowed_actions"):
            table.add_row(label, _value_text(key, record[key], {}))
    console.print(table)
    fields = Table(title="提取字段")
    for col in ("字段", "值", "置信度", "问题"):
        fields.add_column(col)
    for name, info in (record.get("fields") or {}).items():
        if name.startswith("_") or not isinstance(info, dict):
            continue
        value = info.get("value")
        confidence = info.get("confidence")
        fields.add_row(
            field_label(record["document_type"], name),
            "—" if value in (None, "") else str(value),
            "—" if confidence is None else f"{confidence:.0%}",
            "、".join(taxonomy.reason_label(str(r)) for r in info.get("reasons") or ()) or "—",
        )
    console.print(fields)
    reasons = "、".join(r["label"] for r in record.get("review_reasons") or ())
    console.print("审核原因：" + (reasons or "无"))


def print_customer_record(title: str, record: dict[str, Any]) -> None:
    """A customer record with Chinese labels: option codes by their label, times in China time."""
    table = Table(title=title, show_header=False)
    for key, value in record.items():
        if key.endswith("_label") or value in (None, [], ""):
            continue
        shown = record.get(f"{key}_label", value)
        if key == "manual_fields":
            shown = [customer_label(f) for f in value]
        if key.endswith("_at"):
            shown = local_time(value) + "（北京时间）"
        text = "、".join(map(str, shown)) if isinstance(shown, list) else str(shown)
        table.add_row(customer_label(key), text)
    console.print(table)


def print_customer_table(records: list[dict], total: int) -> None:
    table = Table(title=f"客户 ({len(records)} / {total})")
    for col in ("编号", "名称", "类型", "状态", "行业", "等级", "价值层级", "标签"):
        table.add_column(col)
    for r in records:
        table.add_row(
            r["code"], r["name"], r["customer_type_label"], r["status_label"],
            r["industry"] or "", r["level"] or "", r["value_tier"] or "", "、".join(r["tags"]),
        )  # fmt: skip
    console.print(table)
