"""The nightly archive check as a Prefect flow: the steps of :mod:`app.integrity_check` as
task runs, then a markdown artifact. ``dossier check`` without a reachable Prefect server runs
:func:`app.integrity_check.run_integrity_check` directly.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from app.context import app_context
from app.integrity_check import checks, record, repair_findings
from archive.integrity import CheckOptions

ARTIFACT_KEY = "archive-integrity"
MARKDOWN_ROWS = 200


def _cell(value: object) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: dict[str, Any]) -> str:
    """A summary as markdown: counts, then a table of findings (resolved ones last)."""
    c = summary["counts"]
    lines = [
        f"# 归档完整性检查 ({summary['mode']})",
        "",
        f"- 运行: `{summary['run_id']}`  开始: {summary['started_at']}",
        f"- 资料 {c.get('documents', 0)} 份，对象 {c.get('objects', 0)} 个，"
        f"读取校验 {c.get('hashed_objects', 0)} 个（{c.get('hashed_bytes', 0)} 字节）",
        f"- 严重 {c.get('critical', 0)}，警告 {c.get('warning', 0)}，提示 {c.get('info', 0)}；"
        f"新增 {c.get('new', 0)}，仍未解决 {c.get('open', 0)}，已解决 {c.get('resolved', 0)}；"
        f"修复 {c.get('repairs', 0)}",
        "",
    ]
    findings = summary["findings"]
    if not findings:
        lines.append("没有发现问题。")
        return "\n".join(lines) + "\n"
    lines += ["| 严重性 | 类型 | 状态 | 资料 | 对象键 | 说明 |", "|---|---|---|---|---|---|"]
    for f in findings[:MARKDOWN_ROWS]:
        lines.append("| " + " | ".join(_cell(v) for v in (
            f["severity"], f["kind"], f["status"], f["document_id"], f["object_key"],
            f["message"])) + " |")
    if len(findings) > MARKDOWN_ROWS:
        lines.append(f"\n… 另有 {len(findings) - MARKDOWN_ROWS} 条，见 JSON 报告。")
    return "\n".join(lines) + "\n"


checks_task = task(name="run-checks", cache_policy=NO_CACHE)(checks)
repair_task = task(name="repair", cache_policy=NO_CACHE)(repair_findings)
record_task = task(name="record-run", cache_policy=NO_CACHE)(record)


@flow(name="check-archive", description="Prove every archived document is present and intact.")
def check_archive(
    mode: Literal["full", "incremental", "metadata"] = "full", repair: bool = False,
    deep: bool = False,
) -> dict[str, Any]:
    """Run the integrity check, store and compare findings, publish a markdown artifact."""
    ctx = app_context()
    options = CheckOptions.from_settings(ctx.settings, mode=mode, deep=deep)
    report = checks_task(ctx, options)
    actions = repair_task(ctx, report) if repair else []
    summary = record_task(ctx, report, actions)
    create_markdown_artifact(key=ARTIFACT_KEY, markdown=render_markdown(summary),
                             description=f"integrity run {summary['run_id']}")
    return summary
