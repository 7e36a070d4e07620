"""``dossier web``: serve the review web UI with uvicorn (a Typer sub-app for the main CLI)."""

from __future__ import annotations

import typer

app = typer.Typer(help="审核网页界面")


@app.command("web")
def web(
    host: str | None = typer.Option(None, "--host", help="监听地址（默认取配置 web_host）"),
    port: int | None = typer.Option(None, "--port", help="端口（默认取配置 web_port）"),
) -> None:
    """启动审核网页界面（待审核队列）; runs until interrupted."""
    import uvicorn

    from app.context import app_context
    from web.app import create_app

    overrides = {k: v for k, v in (("web_host", host), ("web_port", port)) if v is not None}
    ctx = app_context(check_schema=False, **overrides)  # the app sees the host it is bound to
    ctx.initialize()
    bind_host = ctx.settings.web_host
    bind_port = ctx.settings.web_port
    application = create_app(ctx.settings, engine=ctx.engine, store=ctx.store, host=bind_host)
    typer.echo(f"审核界面: http://{bind_host}:{bind_port}/")
    uvicorn.run(application, host=bind_host, port=bind_port, log_level="info")
