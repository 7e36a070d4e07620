"""``dossier serve``'s one job list (flows/serve.schedules): the notification job runs on
``notify_cron`` always (a webhook may be saved on the web, where the environment has none)."""

from __future__ import annotations

from pathlib import Path

from config import load_settings
from flows.serve import schedules


def _notify_job(tmp_path: Path, **overrides: object):  # noqa: ANN202
    [job] = [j for j in schedules(load_settings(home=tmp_path, **overrides)) if j.name == "notify"]
    return job


def test_the_notify_job_runs_with_or_without_a_channel_in_the_environment(tmp_path: Path) -> None:
    bare = _notify_job(tmp_path)
    assert bare.flow == "flows.notify:send_notifications" and bare.label == "发送通知"
    assert bare.off is None  # a webhook saved on /notifications is sent on this schedule
    by_mail = _notify_job(tmp_path, smtp_host="mail.example.com", notify_cron="0 9 * * *")
    assert (by_mail.off, by_mail.cron, by_mail.interval) == (None, "0 9 * * *", None)
    assert _notify_job(tmp_path, webhook_url="https://hooks.example.com/x").off is None
