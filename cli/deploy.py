"""``dossier deploy --pool NAME``: register the scheduled jobs on a Prefect work pool."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from app.context import app_context
from app.errors import UsageError
from app.prefect_address import reachable_api
from cli.output import JsonOpt, console, emit_json


def deploy(
    pool: Annotated[
        str, typer.Option("--pool", help="Prefect 工作池名称（不存在则创建，process 类型）")
    ],
    json_out: JsonOpt = False,
) -> None:
    """把定时任务注册到 Prefect 工作池（各机器上的 prefect worker start --pool NAME 执行）。"""
    ctx = app_context()
    api = reachable_api(ctx.settings)
    if api is None:
        raise UsageError(
            "找不到可用的 Prefect 服务器：请设置 PREFECT_API_URL，或先运行 dossier serve"
        )
    os.environ["PREFECT_API_URL"] = api  # read by Prefect's client when first imported
    from flows.pool import deploy_to_pool

    rows = deploy_to_pool(ctx.settings, pool)
    if json_out:
        emit_json(rows)
        return
    table = Table(title=f"已注册到工作池 {pool}（{api}）")
    for heading in ("任务", "部署", "计划", "时区"):
        table.add_column(heading)
    for r in rows:
        table.add_row(r["label"], r["deployment"], r["schedule"], r["timezone"] or "—")
    console.print(table)
    console.print(f"在每台处理机器上运行：PREFECT_API_URL={api} prefect worker start --pool {pool}")


def register(root: typer.Typer) -> None:
    """Add ``deploy`` to the root ``dossier`` app (called by cli.main)."""
    root.command("deploy")(deploy)
