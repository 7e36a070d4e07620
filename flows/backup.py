"""The Prefect flow ``backup-archive``: a thin wrapper over :func:`app.upkeep_jobs.run_backup`."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from app.context import app_context
from app.upkeep_jobs import run_backup

ARTIFACT_KEY = "archive-backup"


def render_markdown(summary: dict[str, Any]) -> str:
    lines = [
        "# 定期备份",
        "",
        f"- 备份：`{summary['location']}`",
        f"- 数据库 {summary['database_rows']} 行，对象 {summary['objects']} 个"
        + (f"（复制到 {summary['objects_copied_to']}：新复制 {summary['copied']} 个）"
           if summary["objects_copied_to"] else ""),
        f"- 保留 {len(summary['kept'])} 份；删除旧备份 {len(summary['deleted'])} 份"
        + (f"：{'、'.join(summary['deleted'])}" if summary["deleted"] else ""),
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


@flow(name="backup-archive", description="Back up the database and list every object; rotate.")
def backup_archive() -> dict[str, Any]:
    summary = run_backup(app_context())
    create_markdown_artifact(key=ARTIFACT_KEY, markdown=render_markdown(summary),
                             description=f"backup {summary['name']}")  # fmt: skip
    return summary
