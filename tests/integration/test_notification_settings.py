"""Notification settings edited on the web (app.notify.config), on SQLite and PostgreSQL: the
environment's values are in effect until an admin saves; a save is audited with the changed
values before and after (the webhook address masked); the saved lead days, events, recipients
and webhook address are what the next run uses (a real SMTP server and webhook receiver); a bad
value is refused with a Chinese message naming its field and nothing is written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.notify import notify_expiring
from app.notify.config import env_config, notify_config, save_form
from archive import users
from config.clock import china_date
from models import repo
from models.errors import ValidationError
from tests.integration.test_notifications import (  # noqa: F401  (fixtures)
    Hook,
    Inbox,
    _secret,
    add_document,
    context,
    smtp,
    webhook,
)


def _form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        **{f"event_{k}": "on" for k in ("expiry", "rejected", "quarantined", "integrity")},
        "event_checklist": "on",
        "recipients_expiry": ["owner"],
        "recipients_rejected": ["submitter"],
        "recipients_quarantined": ["submitter"],
        "recipients_integrity": ["role:admin"],
        "recipients_checklist": ["owner"],
        "expiry_days": "30,7,0",
        "checklist_days": "14",
        "quiet_hours": "",
        "digest": "",
        "webhook_url": "",
    }
    return {**form, **changes}


def test_environment_values_until_an_admin_saves_then_audited_changes(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    ctx = context(db_url, tmp_path, expiry_notice_days=[30, 7, 0], notify_quiet_hours="23:00-07:00",
                  webhook_url="https://hooks.example.com/T0KEN/secret")  # fmt: skip
    with Session(engine) as session:
        config = notify_config(session, ctx.settings)
        assert config == env_config(ctx.settings) and config.saved_by is None
        assert config.quiet_hours == "23:00-07:00" and config.expiry_days == (30, 7, 0)
        assert (
            save_form(session, ctx.settings, _form(quiet_hours="23:00-07:00"), actor="boss") == []
        )
        assert repo.get_notification_setting(session) is None  # nothing changed: nothing saved

        changed = save_form(
            session, ctx.settings,
            _form(expiry_days="60，15、3 0", quiet_hours="22:30－08:00", event_checklist="",
                  webhook_url="https://other.example.org/abc/def"),
            actor="boss",
        )  # fmt: skip
        session.commit()
        assert set(changed) == {"expiry_days", "quiet_hours", "events", "webhook_url"}
    with Session(engine) as session:
        saved = notify_config(session, ctx.settings)
        assert saved.expiry_days == (60, 15, 3, 0) and saved.quiet_hours == "22:30-08:00"
        assert not saved.on("checklist") and saved.on("expiry") and saved.saved_by == "boss"
        assert saved.webhook_url == "https://other.example.org/abc/def"
        [event] = repo.list_audit_events(session, entity_type="notification")
        assert event.action == "notification.configure" and event.actor == "boss"
        assert event.before["expiry_days"] == [30, 7, 0]
        assert event.after["expiry_days"] == [60, 15, 3, 0]
        assert event.before["webhook_url"] == "https://hooks.example.com/…"
        assert "abc" not in str(event.after) and "T0KEN" not in str(event.before)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"expiry_days": "30,abc"}, "expiry_days", "整数"),
        ({"expiry_days": ""}, "expiry_days", "至少填写"),
        ({"expiry_days": "99999"}, "expiry_days", "3650"),
        ({"checklist_days": "-1"}, "checklist_days", "整数"),
        ({"quiet_hours": "25:00-08:00"}, "quiet_hours", "HH:MM-HH:MM"),
        ({"quiet_hours": "08:00-08:00"}, "quiet_hours", "不能相同"),
        ({"webhook_url": "ftp://x"}, "webhook_url", "http"),
        ({"recipients_integrity": ["owner"]}, "recipients_integrity", "未知的选项"),
    ],
)
def test_a_bad_value_is_refused_in_chinese_naming_its_field(
    engine: Engine, db_url: str, tmp_path: Path, changes: dict[str, Any], field: str, words: str
) -> None:
    ctx = context(db_url, tmp_path)
    with Session(engine) as session, pytest.raises(ValidationError) as raised:
        save_form(session, ctx.settings, _form(**changes), actor="boss")
    assert raised.value.field == field and words in raised.value.message, raised.value.message
    with Session(engine) as session:
        assert repo.get_notification_setting(session) is None


def test_saved_lead_days_events_recipients_and_webhook_are_used_by_the_next_run(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    smtp: tuple[int, Inbox],  # noqa: F811
    webhook: tuple[str, Hook],  # noqa: F811
) -> None:
    today = china_date()
    add_document(engine, 1, "id_card", "valid_to", today + timedelta(days=45))
    url, hook = webhook
    ctx = context(db_url, tmp_path, smtp_host="127.0.0.1", smtp_port=smtp[0])
    with Session(engine) as session:
        users.create_user(session, username="boss", password="长密码-for-the-test-1", role="admin",
                          email="boss@example.com", actor="t")  # fmt: skip
        session.commit()
    assert notify_expiring(ctx).events == 0  # 45 days: beyond the default 30

    with Session(engine) as session:
        save_form(session, ctx.settings, _form(expiry_days="60,7", webhook_url=url,
                  recipients_expiry=["owner", "role:admin"]), actor="boss")  # fmt: skip
        session.commit()
    report = notify_expiring(ctx)
    assert report.events == 1 and report.failed == [], report.as_dict()
    assert [r["body"]["threshold"] for r in hook.received] == [60]
    assert [m["To"] for m in smtp[1].messages] == ["boss@example.com"]

    with Session(engine) as session:
        save_form(session, ctx.settings, _form(expiry_days="60", event_expiry=""), actor="boss")
        session.commit()
    add_document(engine, 2, "id_card", "valid_to", today + timedelta(days=50))
    assert notify_expiring(ctx).events == 0  # switched off
