"""`dossier serve`: the long-running scheduler.

Schedules need a real Prefect server (the temporary one refuses them, STACK-NOTES), so this
starts ``prefect server start`` unless ``PREFECT_API_URL`` names a server, then serves the
deployments: intake every ``ingest_interval_seconds``, the integrity check on ``integrity_cron``,
the relink pass hourly (``RELINK_CRON``), the e-mail intake every ``mail_interval_seconds``
(when ``mailboxes`` are set), and the scheduled upkeep: the value-tier refresh
(``tier_refresh_cron``), the monthly upkeep report (``upkeep_cron``) and, when ``backup_dest`` is
set, the weekly backup (``backup_cron``). Cron fields are read in ``schedule_timezone``
(Asia/Shanghai by default); :func:`schedule_table` lists them all with their next run.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from config import Settings
from config.clock import CHINA_TZ

log = logging.getLogger("dossier.serve")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_healthy(api_url: str, *, timeout: float = 90.0) -> None:
    """Poll ``<api>/health`` until it answers 200; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(0.5)
    raise TimeoutError(f"Prefect server at {api_url} not healthy after {timeout:.0f}s: {last}")


@contextmanager
def prefect_server(settings: Settings, *, port: int | None = None) -> Iterator[str]:
    """Yield the API URL of a Prefect server: the configured one, or a local one we start."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        yield configured
        return
    port = port or _free_port()
    prefect_home = Path(settings.home) / "prefect"
    prefect_home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    cmd = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log_path = prefect_home / "server.log"
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        wait_until_healthy(api_url)
        log.info("started Prefect server at %s (log: %s)", api_url, log_path)
        yield api_url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


#: The relink pass also runs after every intake pass; hourly it catches customers added by hand.
RELINK_CRON = "17 * * * *"


@dataclass(frozen=True)
class Schedule:
    """One scheduled job of ``dossier serve``: the one list is :func:`schedules`."""

    flow: str  #: "module:attribute" of the Prefect flow
    name: str  #: the deployment's name
    label: str  #: what a person reads (``serve --list``)
    description: str
    cron: str | None = None  #: read in ``schedule_timezone``
    interval: int | None = None  #: seconds, when not a cron
    off: str | None = None  #: why it is switched off (Chinese); None: it runs


def schedules(settings: Settings) -> list[Schedule]:
    """Every job ``dossier serve`` runs, with its schedule from the settings."""
    no_backup = None if settings.backup_dest else "未启用（未设置 backup_dest）"
    no_mail = None if settings.mailboxes else "未启用（未设置 mailboxes）"
    on = settings.smtp_host or settings.webhook_url
    no_notify = None if on else "未启用（未设置 smtp_host 或 webhook_url）"
    return [
        Schedule("flows.ingest:ingest_intake", "intake", "收件箱入库",
                 "Ingest settled files from the intake folder.",
                 interval=settings.ingest_interval_seconds),
        Schedule("flows.integrity:check_archive", "nightly-check", "归档完整性检查",
                 "Prove every archived document is present, intact and filed.",
                 cron=settings.integrity_cron),
        Schedule("flows.relink:relink_pending_flow", "hourly-relink", "补关联客户",
                 "Link documents whose customer is now known (also after each intake).",
                 cron=RELINK_CRON),
        Schedule("flows.mail:fetch_mail", "mail-intake", "邮件收件",
                 "Hand the attachments of new e-mail in to the intake.",
                 interval=settings.mail_interval_seconds, off=no_mail),
        Schedule("flows.tiers:refresh_tiers_flow", "nightly-tiers", "价值层级重算",
                 "Recompute value tiers and levels.", cron=settings.tier_refresh_cron),
        Schedule("flows.upkeep:upkeep_report_flow", "monthly-upkeep", "月度维护报告",
                 "Write the monthly upkeep report (XLSX, JSON).", cron=settings.upkeep_cron),
        Schedule("flows.notify:send_notifications", "notify", "发送通知",
                 "Send the notifications not yet sent (expiry, rejections, quarantine, ...).",
                 cron=settings.notify_cron, off=no_notify),
        Schedule("flows.backup:backup_archive", "weekly-backup", "定期备份",
                 "Back up the instance; keep the newest N.", cron=settings.backup_cron,
                 off=no_backup),
    ]  # fmt: skip


def _flow_of(schedule: Schedule) -> Any:
    module, _, attribute = schedule.flow.partition(":")
    return getattr(importlib.import_module(module), attribute)


def deployments(settings: Settings) -> list[Any]:
    """The Prefect deployments of the jobs that are switched on."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    out = []
    for job in schedules(settings):
        if job.off is not None:
            continue
        timing: dict[str, Any] = (
            {"schedules": [Cron(job.cron, timezone=settings.schedule_timezone)]}
            if job.cron
            else {"interval": job.interval}
        )
        out.append(
            _flow_of(job).to_deployment(
                name=job.name,
                description=job.description,
                # by module path: loading flows/ingest.py as a script would put flows/ on
                # sys.path, where "ingest" names that file instead of the ingest package
                entrypoint_type=EntrypointType.MODULE_PATH,
                **timing,
            )
        )
    return out


def schedule_table(settings: Settings, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every job ``dossier serve`` runs: deployment, Chinese label, cron (or interval), time
    zone and the next run in China time (None: switched off)."""
    from prefect.server.schemas.schedules import CronSchedule

    tz = settings.schedule_timezone
    start = now or datetime.now(CHINA_TZ)
    rows = []
    for job in schedules(settings):
        cron = job.cron if job.off is None else None
        row: dict[str, Any] = {
            "deployment": f"{_flow_of(job).name}/{job.name}",
            "label": job.label,
            "cron": cron,
            "schedule": job.off or job.cron or f"每 {job.interval} 秒",
            "timezone": tz if cron else None,
            "next_run": None,
        }
        if cron:
            dates = CronSchedule(cron=cron, timezone=tz).get_dates(1, start=start)
            [when] = asyncio.run(dates)  # the scheduler's own computation
            row["next_run"] = when.astimezone(CHINA_TZ).isoformat(timespec="minutes")
        rows.append(row)
    return rows


def serve_forever(settings: Settings) -> None:
    """Start (or reach) a Prefect server and serve dossier's scheduled flows until stopped."""

    def _stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # runs the finally blocks: the server is stopped too

    signal.signal(signal.SIGTERM, _stop)
    with prefect_server(settings) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        # Imported only now: Prefect reads PREFECT_API_URL when its client is first built.
        from prefect import serve

        serve(*deployments(settings))
