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
import contextlib
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.prefect_address import clear_address, ui_url, wait_until_healthy, write_address
from app.shutdown import STOP_FILE_ENV, write_stop_file
from config import Settings
from config.clock import CHINA_TZ

log = logging.getLogger("dossier.serve")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        # the dashboard asks this address, not the default port 4200 (issue 14)
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
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
                 cron=settings.notify_cron),  # always: a webhook may be saved on the web
        Schedule("flows.backup:backup_archive", "weekly-backup", "定期备份",
                 "Back up the instance; keep the newest N.", cron=settings.backup_cron,
                 off=no_backup),
    ]  # fmt: skip


def _flow_of(schedule: Schedule) -> Any:
    module, _, attribute = schedule.flow.partition(":")
    return getattr(importlib.import_module(module), attribute)


#: Under serve the intake runs on demand: every ``ingest_interval_seconds`` serve looks, and
#: makes a flow run only when there is a file or a claim (an idle intake makes no run at all).
ON_DEMAND = "intake"


def deployments(settings: Settings, *, on_demand: bool = False) -> list[Any]:
    """The Prefect deployments of the jobs that are switched on (``on_demand``: the intake's
    without its interval schedule; serve starts its runs, :func:`_intake_on_demand`)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    out = []
    for job in schedules(settings):
        if job.off is not None:
            continue
        timing: dict[str, Any] = (
            {"schedules": [Cron(job.cron, timezone=settings.schedule_timezone)]}
            if job.cron
            else {}
            if on_demand and job.name == ON_DEMAND
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
    """Start (or reach) a Prefect server and serve dossier's scheduled flows until stopped.

    SIGTERM or SIGINT stops gracefully: no new run is picked up, the intake passes under way
    take no new file and finish theirs within ``shutdown_grace_seconds`` (they watch the stop
    file, and get the signal themselves when it is sent to the whole group), then the runner
    and the server stop. A second signal hurries: whatever is still running is interrupted and
    its file goes back to the intake.
    """
    signals: list[int] = []
    stopped = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        signals.append(signum)
        stopped.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _on_signal)
    stop_file = Path(settings.home) / "prefect" / f"stop-{os.getpid()}.json"
    stop_file.unlink(missing_ok=True)
    with prefect_server(settings) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        os.environ[STOP_FILE_ENV] = str(stop_file)  # inherited by the flow runs
        where = write_address(settings, api_url)
        try:
            _serve_until_stopped(settings, api_url, where, stopped, signals, stop_file)
        finally:
            clear_address(settings)
            stop_file.unlink(missing_ok=True)


def _serve_until_stopped(
    settings: Settings,
    api_url: str,
    where: Path,
    stopped: threading.Event,
    signals: list[int],
    stop_file: Path,
) -> None:
    # Imported only now: Prefect reads PREFECT_API_URL when its client is first built.
    from prefect.runner import Runner

    runner = Runner(name="dossier-serve", pause_on_shutdown=True)
    loop: list[asyncio.AbstractEventLoop] = []
    served = deployments(settings, on_demand=True)  # built here: in a loop they are coroutines

    async def _run() -> None:
        loop.append(asyncio.get_running_loop())
        ids = {}
        for deployment in served:
            ids[deployment.name] = await runner.add_deployment(deployment)
        _banner(settings, api_url, where)
        trigger = asyncio.create_task(_intake_on_demand(settings, ids[ON_DEMAND], stopped))
        try:
            await runner.start()  # in this thread, the runner leaves the signals to us
        finally:
            trigger.cancel()

    failed: list[BaseException] = []

    def _runner_thread() -> None:
        try:
            asyncio.run(_run())
        except BaseException as e:  # noqa: BLE001 - raised again in the main thread
            failed.append(e)

    thread = threading.Thread(target=_runner_thread, name="prefect-runner")
    thread.start()
    while not stopped.wait(1.0):
        if not thread.is_alive():  # the runner ended by itself: serve fails with its error
            raise failed[0] if failed else RuntimeError("the Prefect runner stopped")
    _drain(runner, settings.shutdown_grace_seconds, signals, stop_file)
    if loop and thread.is_alive():  # cancels what still runs, ends runner.start()
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(runner.astop(), loop[0]).result(timeout=60)
    thread.join(timeout=60)


def _drain(runner: Any, grace: float, signals: list[int], stop_file: Path) -> None:
    """Start no new run; wait until the runs under way (their processes) have ended: intake
    passes take no new file and finish theirs within ``grace`` (they watch the stop file)."""
    log.warning("stopping: intake passes finish their files (up to %.0f s)", grace)
    write_stop_file(stop_file, grace_seconds=grace)
    poller = getattr(runner, "_scheduled_run_poller", None)
    if poller is not None:  # pick up no new run (the stop file makes a new pass take nothing)
        poller.stopping = True
    deadline = time.monotonic() + grace + _STOP_MARGIN_SECONDS
    hurried = False
    while _flow_run_processes() and time.monotonic() < deadline:
        if len(signals) > 1 and not hurried:  # a second signal: interrupt now
            hurried = True
            log.warning("stopping now (signal %d): interrupting what runs", len(signals))
            write_stop_file(stop_file, grace_seconds=0)
            deadline = min(deadline, time.monotonic() + _STOP_MARGIN_SECONDS)
        time.sleep(0.5)


async def _intake_on_demand(
    settings: Settings, deployment_id: Any, stopped: threading.Event
) -> None:
    """Every ``ingest_interval_seconds``: when the intake has work and the last intake run has
    finished, make a new run of the intake deployment (the runner picks it up)."""
    from prefect.client.orchestration import get_client

    from app.intake_watch import intake_has_work

    last = None
    while not stopped.is_set():
        try:
            if await asyncio.to_thread(intake_has_work, settings):
                async with get_client() as client:
                    state = (await client.read_flow_run(last)).state if last else None
                    busy = state is not None and not state.is_final()
                    if not busy and not stopped.is_set():
                        last = (await client.create_flow_run_from_deployment(deployment_id)).id
        except Exception as e:  # noqa: BLE001 - the server may be busy: look again next time
            log.warning("could not start an intake run: %s", e)
        await asyncio.sleep(settings.ingest_interval_seconds)


def _flow_run_processes() -> list[int]:
    """The runs under way: our live child processes in our process group (the Prefect server
    has a session of its own; multiprocessing's resource tracker is not a run)."""
    me, group, found = os.getpid(), os.getpgrp(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid, pgrp = fields[0], int(fields[1]), int(fields[2])
        if ppid == me and pgrp == group and state != "Z" and b"resource_tracker" not in cmdline:
            found.append(int(stat.parent.name))
    return found


#: After the grace period: time for interrupted passes to hand their files back and exit.
_STOP_MARGIN_SECONDS = 15.0


def _banner(settings: Settings, api_url: str, where: Path) -> None:
    jobs = [j for j in schedules(settings) if j.off is None]
    first = f"{_flow_of(jobs[0]).name}/{jobs[0].name}"
    grace = f"{settings.shutdown_grace_seconds:g}"
    lines = [
        "dossier serve 已启动",
        f"  Prefect 界面：{ui_url(api_url)}",
        f"  Prefect API：{api_url}（已写入 {where}，dossier ingest / check 运行时会向它报告）",
        f"  定时任务 {len(jobs)} 项（dossier serve --list 查看）；手动运行：",
        f"    PREFECT_API_URL={api_url} prefect deployment run '{first}'",
        f"  停止：Ctrl-C 或 SIGTERM（正在处理的文件最多再处理 {grace} 秒）",
    ]  # fmt: skip
    print("\n".join(lines), flush=True)
