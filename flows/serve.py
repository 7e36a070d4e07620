"""`dossier serve`: the long-running scheduler.

Schedules need a real Prefect server (the temporary one refuses them, STACK-NOTES), so this
starts ``prefect server start`` unless ``PREFECT_API_URL`` names a server, then serves the
deployments: intake every ``ingest_interval_seconds``, the integrity check on ``integrity_cron``,
the relink pass hourly (``RELINK_CRON``), the e-mail intake every ``mail_interval_seconds``
(when mailboxes are configured), and the scheduled upkeep: the value-tier refresh
(``tier_refresh_cron``), the monthly upkeep report (``upkeep_cron``) and, when ``backup_dest`` is
set, the weekly backup (``backup_cron``). Cron fields are read in ``schedule_timezone``
(Asia/Shanghai by default); :func:`schedule_table` lists them all with their next run.
"""

from __future__ import annotations

import asyncio
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


def schedule_table(settings: Settings, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every deployment ``dossier serve`` runs: name, Chinese label, cron (or interval), time
    zone and the next run in China time (None: switched off)."""
    from prefect.server.schemas.schedules import CronSchedule

    tz = settings.schedule_timezone
    rows: list[dict[str, Any]] = [
        {"deployment": "ingest_intake/intake", "label": "收件箱入库",
         "schedule": f"每 {settings.ingest_interval_seconds} 秒", "cron": None},
        {"deployment": "check-archive/nightly-check", "label": "归档完整性检查",
         "cron": settings.integrity_cron},
        {"deployment": "relink-pending/hourly-relink", "label": "补关联客户", "cron": RELINK_CRON},
        {"deployment": "mail-intake/mail-intake", "label": "邮件收件",
         "schedule": f"每 {settings.mail_interval_seconds} 秒", "cron": None},
        {"deployment": "refresh-tiers/nightly-tiers", "label": "价值层级重算",
         "cron": settings.tier_refresh_cron},
        {"deployment": "upkeep-report/monthly-upkeep", "label": "月度维护报告",
         "cron": settings.upkeep_cron},
        {"deployment": "backup-archive/weekly-backup", "label": "定期备份",
         "cron": settings.backup_cron if settings.backup_dest else None,
         **({} if settings.backup_dest else {"schedule": "未启用（未设置 backup_dest）"})},
    ]  # fmt: skip
    start = now or datetime.now(CHINA_TZ)
    for row in rows:
        row["timezone"] = tz if row["cron"] else None
        row.setdefault("schedule", row["cron"])
        row["next_run"] = None
        if row["cron"]:
            dates = CronSchedule(cron=row["cron"], timezone=tz).get_dates(1, start=start)
            [when] = asyncio.run(dates)  # the scheduler's own computation
            row["next_run"] = when.astimezone(CHINA_TZ).isoformat(timespec="minutes")
    return rows


def _upkeep_deployments(settings: Settings) -> list[Any]:
    """The scheduled upkeep: tier refresh (nightly), upkeep report (monthly), backup (weekly)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    from flows.backup import backup_archive
    from flows.tiers import refresh_tiers_flow
    from flows.upkeep import upkeep_report_flow

    def cron(expression: str) -> list[Any]:
        return [Cron(expression, timezone=settings.schedule_timezone)]

    module = EntrypointType.MODULE_PATH
    out = [
        refresh_tiers_flow.to_deployment(
            name="nightly-tiers", schedules=cron(settings.tier_refresh_cron),
            entrypoint_type=module, description="Recompute value tiers and levels.",
        ),
        upkeep_report_flow.to_deployment(
            name="monthly-upkeep", schedules=cron(settings.upkeep_cron),
            entrypoint_type=module, description="Write the monthly upkeep report (XLSX, JSON).",
        ),
    ]  # fmt: skip
    if settings.backup_dest:
        out.append(backup_archive.to_deployment(
            name="weekly-backup", schedules=cron(settings.backup_cron),
            entrypoint_type=module, description="Back up the instance; keep the newest N.",
        ))  # fmt: skip
    return out


def serve_forever(settings: Settings) -> None:
    """Start (or reach) a Prefect server and serve dossier's scheduled flows until stopped."""

    def _stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # runs the finally blocks: the server is stopped too

    signal.signal(signal.SIGTERM, _stop)
    with prefect_server(settings) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        # Imported only now: Prefect reads PREFECT_API_URL when its client is first built.
        from prefect import serve
        from prefect.deployments.runner import EntrypointType
        from prefect.schedules import Cron

        from flows.ingest import ingest_intake
        from flows.integrity import check_archive
        from flows.mail import fetch_mail
        from flows.relink import relink_pending_flow

        serve(
            ingest_intake.to_deployment(
                name="intake",
                interval=settings.ingest_interval_seconds,
                # by module path: loading flows/ingest.py as a script would put flows/ on
                # sys.path, where "ingest" names that file instead of the ingest package
                entrypoint_type=EntrypointType.MODULE_PATH,
                description="Ingest settled files from the intake folder.",
            ),
            check_archive.to_deployment(
                name="nightly-check",
                schedules=[Cron(settings.integrity_cron, timezone=settings.schedule_timezone)],
                entrypoint_type=EntrypointType.MODULE_PATH,
                description="Prove every archived document is present, intact and filed.",
            ),
            relink_pending_flow.to_deployment(
                name="hourly-relink",
                schedules=[Cron(RELINK_CRON, timezone=settings.schedule_timezone)],
                entrypoint_type=EntrypointType.MODULE_PATH,
                description="Link documents whose customer is now known (also after each intake).",
            ),
            *_upkeep_deployments(settings),
            fetch_mail.to_deployment(
                name="mail-intake",
                interval=settings.mail_interval_seconds,
                entrypoint_type=EntrypointType.MODULE_PATH,
                description="Hand the attachments of new e-mail in to the intake.",
            ),
        )
