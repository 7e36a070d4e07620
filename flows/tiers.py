"""The Prefect flow ``refresh-tiers``: a thin wrapper over
:func:`app.upkeep_jobs.run_tier_refresh` (annual amounts move with the calendar)."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from app.context import app_context
from app.upkeep_jobs import run_tier_refresh

ARTIFACT_KEY = "tier-refresh"


@flow(name="refresh-tiers", description="Recompute every customer's value tier and level.")
def refresh_tiers_flow() -> dict[str, Any]:
    summary = run_tier_refresh(app_context())
    markdown = f"# 价值层级重算\n\n变更客户 {summary['changed']} 个。\n"
    create_markdown_artifact(key=ARTIFACT_KEY, markdown=markdown, description="value-tier refresh")
    return summary
