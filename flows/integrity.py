"""The nightly archive check as a Prefect flow: a thin wrapper over :mod:`archive.integrity`.

settings -> engine and store -> run the checks -> (repair) -> store findings compared with the
previous run -> markdown artifact -> summary. :func:`run_integrity_check` is the same work
without Prefect (``dossier check --no-prefect`` and tests).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from app.context import AppContext, app_context
from archive.integrity import (
    CheckOptions,
    CheckReport,
    Mode,
    QuarantineItem,
    RepairAction,
    record_run,
    repair,
    run_checks,
)
from ingest.quarantine import list_quarantine
from models.db import session_scope

ARTIFACT_KEY = "archive-integrity"
MARKDOWN_ROWS = 200


def quarantine_items(quarantine_dir: Path | str | None) -> list[QuarantineItem]:
    """The quarantine folder's entries as plain items for the archive check."""
    if quarantine_dir is None:
        return []
    root = Path(quarantine_dir)
    items = []
    for entry in list_quarantine(root):
        path = entry.path or entry.record_path
        if path is None:
            continue
        items.append(QuarantineItem(name=path.relative_to(root).as_posix(), reason=entry.reason,
                                    quarantined_at=entry.quarantined_at, problem=entry.problem))
    return items


def _checks(ctx: AppContext, options: CheckOptions) -> CheckReport:
    return run_checks(engine=ctx.engine, store=ctx.store, taxonomy=ctx.taxonomy, options=options,
                      quarantine=quarantine_items(ctx.settings.quarantine_dir))


def _repair(ctx: AppContext, report: CheckReport) -> list[RepairAction]:
    return repair(engine=ctx.engine, store=ctx.store, findings=report.findings)


def _record(ctx: AppContext, report: CheckReport, actions: list[RepairAction]) -> dict[str, Any]:
    with session_scope(ctx.engine) as session:
        return record_run(session, report=report, repairs=actions)


def run_integrity_check(
    ctx: AppContext, *, mode: Mode | str = Mode.FULL, repair_: bool = False,
    now: datetime | None = None, deep: bool = False,
) -> dict[str, Any]:
    """Check, optionally repair, record; return the summary (see ``archive.integrity.record_run``).

    Args:
        ctx: Settings, engine and store.
        mode: ``full``, ``incremental`` or ``metadata``.
        repair_: Repair what can be repaired (never destructive, audited).
        now: Reference time (default: now).
        deep: Open every PDF read with pypdf, also bytes whose PDF facts are already proven.
    """
    options = CheckOptions.from_settings(ctx.settings, mode=mode, now=now, deep=deep)
    report = _checks(ctx, options)
    actions = _repair(ctx, report) if repair_ else []
    return _record(ctx, report, actions)


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


checks_task = task(name="run-checks", cache_policy=NO_CACHE)(_checks)
repair_task = task(name="repair", cache_policy=NO_CACHE)(_repair)
record_task = task(name="record-run", cache_policy=NO_CACHE)(_record)


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
