"""``dossier check``: run the archive integrity check and show or save the findings.

Exit codes: 0 clean (or information only), 1 findings at warning level, 2 critical findings.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="归档完整性检查 (integrity check)", add_completion=False)

SEVERITY_LABELS = {
    "critical": "[red]严重[/red]",
    "warning": "[yellow]警告[/yellow]",
    "info": "提示",
}
MODE_LABELS = {"full": "完整读取", "incremental": "增量读取", "metadata": "仅元数据"}
STATUS_LABELS = {"new": "新增", "open": "未解决", "resolved": "[green]已解决[/green]"}


MODE_HELP = (
    "full: 读取并校验全部内容; incremental: 只读取超过 scrub_days 天未校验的对象; "
    "metadata: 不读内容（列表、head 与数据库）"
)


class CheckMode(StrEnum):
    full = "full"
    incremental = "incremental"
    metadata = "metadata"


def _table(summary: dict[str, Any]) -> Table:
    from archive.integrity.findings import KINDS

    mode = MODE_LABELS.get(summary["mode"], summary["mode"])
    table = Table(title=f"归档完整性检查（{mode}）")
    for name in ("严重性", "类型", "状态", "资料", "对象键", "说明"):
        table.add_column(name, overflow="fold")
    for f in summary["findings"]:
        table.add_row(
            SEVERITY_LABELS.get(f["severity"], f["severity"]),
            KINDS[f["kind"]][1] if f["kind"] in KINDS else f["kind"],
            STATUS_LABELS.get(f["status"], f["status"]),
            str(f["document_id"] or ""),
            f["object_key"] or "",
            f["message"] or "",
        )
    return table


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    c = summary["counts"]
    if summary["findings"]:
        console.print(_table(summary))
    for a in summary["repairs"]:
        mark = "[green]✓[/green]" if a["ok"] else "[red]✗[/red]"
        console.print(f"{mark} 修复 {a['object_key']}：{a['message'] or '—'}")
    console.print(
        f"资料 {c['documents']} 份，对象 {c['objects']} 个，读取校验 {c['hashed_objects']} 个；"
        f"严重 {c['critical']}，警告 {c['warning']}，提示 {c['info']}；新增 {c['new']}，"
        f"未解决 {c['open']}，已解决 {c['resolved']}"
    )


def run_summary(
    *, mode: str, repair: bool, use_prefect: bool | None, deep: bool = False
) -> dict[str, Any]:
    """Run the check as the Prefect flow (a server answers, or ``--prefect``) or directly;
    return its summary."""
    from app.context import app_context
    from app.prefect_address import use_flows

    ctx = app_context()
    if use_flows(ctx.settings, use_prefect):
        from flows.integrity import check_archive

        return check_archive(mode=mode, repair=repair, deep=deep)  # type: ignore[arg-type]
    from app.integrity_check import run_integrity_check

    return run_integrity_check(ctx, mode=mode, repair_=repair, deep=deep)


@app.command("check")
def check(
    mode: Annotated[CheckMode, typer.Option("--mode", help=MODE_HELP)] = CheckMode.full,
    repair: Annotated[
        bool, typer.Option("--repair", help="修复可修复的问题（不删除任何数据）")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="输出 JSON（机器可读）")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", help="同时把 JSON 报告保存到此文件")
    ] = None,
    use_prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--no-prefect",
            help="作为 Prefect 流程运行；默认仅当 Prefect 服务器可达时"
            "（dossier serve 正在运行，或设置了 PREFECT_API_URL）",
        ),
    ] = None,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep", help="用 pypdf 打开读取的每个 PDF，包括已验证过的内容（较慢）"
        ),
    ] = False,
) -> None:
    """Prove every archived document is present, intact, correctly filed and linked.

    Exit code 0: clean; 1: warnings; 2: critical findings; 3: the check could not run.
    """
    summary = run_summary(mode=mode.value, repair=repair, use_prefect=use_prefect, deep=deep)
    text = json.dumps(summary, ensure_ascii=False, indent=2, default=str)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    if json_out:
        sys.stdout.write(text + "\n")
    else:
        _print_summary(Console(), summary)
    raise typer.Exit(code=int(summary["exit_code"]))


def register(root: typer.Typer) -> None:
    """Add ``check`` to the root ``dossier`` app (called by cli.main)."""
    root.command("check")(check)
