"""What every command prints with: the consoles, the one JSON emitter, shared options."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from app.errors import UsageError
from config.taxonomy import Taxonomy

console = Console()
err = Console(stderr=True)

# Ids are checked before they reach the database (an INTEGER column on SQLite and PostgreSQL).
MAX_ID = 2_147_483_647
DocumentIdArg = Annotated[int, typer.Argument(min=1, max=MAX_ID, help="资料 ID")]

JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON（机器可读）")]
LimitOpt = Annotated[int, typer.Option(min=1, max=10_000, help="最多列出条数")]
OffsetOpt = Annotated[int, typer.Option(min=0, help="跳过前若干条（翻页）")]
FullOpt = Annotated[bool, typer.Option("--full", help="显示完整证件号码与电话（记入审计日志）")]


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout for scripts."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n")


def cli_actor() -> str:
    """The audit actor for trusted command-line work: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def choose(option: str, value: str | None, choices: dict[str, str]) -> str | None:
    """The code for ``value`` given as a code or its Chinese label; anything else is refused.

    ``choices`` maps codes to labels; the error lists every allowed value.
    """
    if value is None:
        return None
    if value in choices:
        return value
    for code, label in choices.items():
        if label == value:
            return code
    allowed = "、".join(f"{code}（{label}）" for code, label in choices.items())
    raise UsageError(f"{option} 的值无效：{value}；可选：{allowed}")


def document_types(taxonomy: Taxonomy) -> dict[str, str]:
    return {t.code: t.label for t in taxonomy.document_types}


def customer_types(taxonomy: Taxonomy) -> dict[str, str]:
    return {t.code: t.label for t in taxonomy.customer_types}


def print_documents(records: list[dict[str, Any]]) -> None:
    """The documents table (``documents list``, ``customers show``)."""
    table = Table(title=f"资料 ({len(records)})")
    for col in ("ID", "状态", "类型", "客户", "提交日期", "页数", "归档位置", "审核原因"):
        table.add_column(col)
    for r in records:
        # 二次核验 applies to nearly everything: name it only when it is the sole reason
        labels = [x["label"] for x in r["review_reasons"] if x["code"] != "second_check"]
        labels = labels or [x["label"] for x in r["review_reasons"]]
        reasons = "、".join(labels)
        table.add_row(
            str(r["id"]),
            r["status_label"],
            r["document_type_label"],
            r["customer"]["name"] if r["customer"] else "（未关联）",
            r["submitted_date"] or "",
            str(r["page_count"] or ""),
            r["pdf_key"] or "",
            reasons,
        )
    console.print(table)
