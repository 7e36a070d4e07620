"""``dossier serve``'s one job list (flows/serve.schedules): the notification job runs on
``notify_cron`` once a channel is configured (SMTP or webhook), and is listed as off before."""

from __future__ import annotations

from pathlib import Path

from config import load_settings
from flows.serve import schedules


def _notify_job(tmp_path: Path, **overrides: object):  # noqa: ANN202
    [job] = [j for j in schedules(load_settings(home=tmp_path, **overrides)) if j.name == "notify"]
    return job


def test_the_notify_job_runs_once_a_channel_is_configured(tmp_path: Path) -> None:
    off = _notify_job(tmp_path)
    assert off.flow == "flows.notify:send_notifications" and off.label == "发送通知"
    assert off.off is not None and "smtp_host" in off.off
    by_mail = _notify_job(tmp_path, smtp_host="mail.example.com", notify_cron="0 9 * * *")
    assert (by_mail.off, by_mail.cron, by_mail.interval) == (None, "0 9 * * *", None)
    assert _notify_job(tmp_path, webhook_url="https://hooks.example.com/x").off is None
