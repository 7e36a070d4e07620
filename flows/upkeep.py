"""The Prefect flow ``upkeep-report`` (monthly): a thin wrapper over
:func:`app.upkeep_jobs.run_upkeep_report`."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from app.context import app_context
from app.upkeep_jobs import run_upkeep_report
from archive.upkeep import SECTIONS

ARTIFACT_KEY = "upkeep-report"


def render_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# 月度维护报告（{summary['date']}）", "", "| 项目 | 条数 |", "|---|---|"]
    lines += [f"| {SECTIONS[key]} | {n} |" for key, n in summary["counts"].items()]
    lines += ["", f"- 表格：`{summary['xlsx']}`", f"- JSON：`{summary['json']}`"]
    return "\n".join(lines) + "\n"


@flow(name="upkeep-report", description="Write the monthly upkeep report (XLSX and JSON).")
def upkeep_report_flow() -> dict[str, Any]:
    summary = run_upkeep_report(app_context())
    create_markdown_artifact(key=ARTIFACT_KEY, markdown=render_markdown(summary),
                             description=f"upkeep report {summary['date']}")  # fmt: skip
    return summary
