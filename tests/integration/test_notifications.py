"""Expiry notifications (issue 13, item 3) to a real SMTP server (aiosmtpd's controller) and a
real HTTP server checking the webhook's signature, on SQLite and PostgreSQL: each event goes
out once; a failing endpoint is retried with back-off and, when it keeps failing, tried again
on the next run."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.context import AppContext
from app.notify import notify_expiring
from config import load_settings
from config.clock import china_date
from models import repo
from tests.fixtures.dovecot import free_port

SECRET = "webhook-secret-for-tests"


class Inbox:
    """aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


class Hook:
    """A webhook receiver: answers from ``script`` (status or "hang"), then 200; checks HMAC."""

    def __init__(self) -> None:
        self.script: list[int | str] = []
        self.received: list[dict[str, Any]] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-Dossier-Timestamp"]
                mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
                valid = hmac.compare_digest(
                    "sha256=" + mac.hexdigest(), self.headers.get("X-Dossier-Signature", "")
                )
                step = hook.script.pop(0) if hook.script else 200
                hook.received.append(
                    {"valid": valid, "body": json.loads(body), "answer": step,
                     "event": self.headers["X-Dossier-Event"]}
                )  # fmt: skip
                if step == "hang":
                    time.sleep(1.5)
                    step = 200
                self.send_response(int(step))
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def webhook() -> Iterator[tuple[str, Hook]]:
    hook = Hook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), hook.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def context(db_url: str, tmp_path: Path, **overrides: object) -> AppContext:
    values: dict[str, object] = {
        "home": tmp_path / "home",
        "database_url": db_url,
        "webhook_secret_env": "DOSSIER_TEST_WEBHOOK_SECRET",
        "notify_timeout_seconds": 0.5,
        "smtp_tls": "off",
    }
    return AppContext(settings=load_settings(**{**values, **overrides}))


def add_document(engine: Engine, n: int, document_type: str, field: str, end: date) -> int:
    with Session(engine) as session:
        doc = repo.create_document(
            session,
            actor="test",
            data={
                "document_type": document_type,
                "status": "archived",
                "original_filename": f"扫描{n}.pdf",
                "original_sha256": hashlib.sha256(f"doc {n}".encode()).hexdigest(),
                "original_size": 100,
                "submitted_date": date(2026, 1, 5),
                "fields": {field: {"value": end.isoformat(), "confidence": 0.9}},
            },
        )
        session.commit()
        return doc.id or 0


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSSIER_TEST_WEBHOOK_SECRET", SECRET)


def test_each_threshold_goes_out_once_by_email_and_signed_webhook(
    engine: Engine, db_url: str, tmp_path: Path, smtp: tuple[int, Inbox], webhook: tuple[str, Hook]
) -> None:
    today = china_date()
    soon = add_document(engine, 1, "id_card", "valid_to", today + timedelta(days=5))
    month = add_document(engine, 2, "business_license", "term_end", today + timedelta(days=20))
    add_document(engine, 3, "id_card", "valid_to", today + timedelta(days=100))  # not yet
    gone = add_document(engine, 4, "id_card", "valid_to", today - timedelta(days=1))
    url, hook = webhook
    ctx = context(
        db_url, tmp_path, smtp_host="127.0.0.1", smtp_port=smtp[0], webhook_url=url,
        notify_email_to=["sales@example.com", "boss@example.com"],
    )  # fmt: skip

    report = notify_expiring(ctx)
    assert report.events == 3 and report.failed == [] and len(report.sent) == 9
    keys = sorted(r["event"] for r in hook.received)
    assert keys == sorted(
        [
            f"expiry:{soon}:{today + timedelta(days=5)}:7",
            f"expiry:{month}:{today + timedelta(days=20)}:30",
            f"expiry:{gone}:{today - timedelta(days=1)}:0",
        ]
    )
    assert all(r["valid"] for r in hook.received)
    assert {r["body"]["days_left"] for r in hook.received} == {5, 20, -1}
    mails = smtp[1].messages
    assert sorted(m["To"] for m in mails) == ["boss@example.com"] * 3 + ["sales@example.com"] * 3
    assert any("还剩 5 天" in m["Subject"] and "身份证" in m["Subject"] for m in mails)
    assert any("已于" in m["Subject"] for m in mails)

    again = notify_expiring(ctx)
    assert (again.sent, again.already_sent) == ([], 9)
    assert len(hook.received) == 3 and len(smtp[1].messages) == 6


def test_a_failing_webhook_is_retried_and_a_dead_one_tried_again_next_run(
    engine: Engine, db_url: str, tmp_path: Path, webhook: tuple[str, Hook]
) -> None:
    add_document(engine, 1, "id_card", "valid_to", china_date())
    url, hook = webhook
    hook.script = [500, "hang", 200]
    report = notify_expiring(context(db_url, tmp_path, webhook_url=url, webhook_attempts=4))
    assert len(report.sent) == 1
    assert [r["answer"] for r in hook.received] == [500, "hang", 200]
    assert all(r["valid"] for r in hook.received)

    add_document(engine, 2, "business_license", "term_end", china_date() + timedelta(days=3))
    hook.script = [503, 503]
    failed = notify_expiring(context(db_url, tmp_path, webhook_url=url, webhook_attempts=2))
    assert [f["error"] for f in failed.failed] == ["Webhook 发送失败（HTTP 503）"]
    later = notify_expiring(context(db_url, tmp_path, webhook_url=url, webhook_attempts=2))
    assert (len(later.sent), later.already_sent) == (1, 1)


def test_an_unreachable_smtp_server_is_reported_and_not_recorded(
    engine: Engine, db_url: str, tmp_path: Path, smtp: tuple[int, Inbox]
) -> None:
    add_document(engine, 1, "id_card", "valid_to", china_date() + timedelta(days=30))
    closed = free_port()
    overrides = {"smtp_host": "127.0.0.1", "notify_email_to": ["a@example.com"]}
    down = notify_expiring(context(db_url, tmp_path, smtp_port=closed, **overrides))
    assert down.sent == [] and down.failed[0]["channel"] == "email"
    up = notify_expiring(context(db_url, tmp_path, smtp_port=smtp[0], **overrides))
    assert len(up.sent) == 1 and len(smtp[1].messages) == 1
    assert "还剩 30 天" in smtp[1].messages[0]["Subject"]


def test_the_cli_and_the_flow_send_through_the_same_rule(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    webhook: tuple[str, Hook],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import subprocess
    import sys

    from flows.notify import send_notifications

    add_document(engine, 1, "id_card", "valid_to", china_date() + timedelta(days=7))
    url, hook = webhook
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env |= {
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "DOSSIER_HOME": str(tmp_path / "home"),
        "DOSSIER_DATABASE_URL": db_url,
        "DOSSIER_WEBHOOK_URL": url,
        "DOSSIER_WEBHOOK_SECRET_ENV": "DOSSIER_TEST_WEBHOOK_SECRET",
        "DOSSIER_TEST_WEBHOOK_SECRET": SECRET,
    }
    dossier = Path(sys.executable).with_name("dossier")
    result = subprocess.run(
        [str(dossier), "notify", "run", "--json"], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["sent"]) == 1
    assert [r["valid"] for r in hook.received] == [True]

    for key in ("DOSSIER_HOME", "DOSSIER_DATABASE_URL", "DOSSIER_WEBHOOK_URL"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("DOSSIER_WEBHOOK_SECRET_ENV", "DOSSIER_TEST_WEBHOOK_SECRET")
    assert send_notifications.fn()["already_sent"] == 1
    assert len(hook.received) == 1


def test_nothing_is_sent_in_quiet_hours_china_time(
    engine: Engine, db_url: str, tmp_path: Path, webhook: tuple[str, Hook]
) -> None:
    from datetime import datetime

    from config.clock import CHINA_TZ

    night = datetime(2026, 12, 6, 23, 30, tzinfo=CHINA_TZ)  # 15:30 UTC
    morning = datetime(2026, 12, 7, 9, 0, tzinfo=CHINA_TZ)  # 01:00 UTC
    add_document(engine, 1, "id_card", "valid_to", date(2026, 12, 10))
    url, hook = webhook
    ctx = context(db_url, tmp_path, webhook_url=url, notify_quiet_hours="22:00-08:00")
    quiet = notify_expiring(ctx, now=night)
    assert (quiet.events, quiet.quiet_hours, quiet.sent) == (1, True, [])
    assert hook.received == []
    awake = notify_expiring(ctx, now=morning)
    assert len(awake.sent) == 1 and hook.received[0]["body"]["days_left"] == 3


def test_bad_quiet_hours_are_a_configuration_error(tmp_path: Path) -> None:
    from config.errors import ConfigError

    for bad in ("22:00", "25:00-08:00", "08:00-08:00"):
        with pytest.raises(ConfigError):
            load_settings(home=tmp_path, notify_quiet_hours=bad)


def test_a_digest_gathers_the_reminders_into_one_email_per_recipient(
    engine: Engine, db_url: str, tmp_path: Path, smtp: tuple[int, Inbox]
) -> None:
    today = china_date()
    for n, days in enumerate((0, 6, 25), start=1):
        add_document(engine, n, "id_card", "valid_to", today + timedelta(days=days))
    overrides = {"smtp_host": "127.0.0.1", "smtp_port": smtp[0], "notify_digest": True}
    ctx = context(db_url, tmp_path, notify_email_to=["a@example.com"], **overrides)
    report = notify_expiring(ctx)
    assert len(report.sent) == 3
    [mail] = smtp[1].messages
    assert "3 份资料" in mail["Subject"]
    body = mail.get_content()
    assert "1. " in body and "3. " in body and "还剩 25 天" in body
    assert notify_expiring(ctx).already_sent == 3 and len(smtp[1].messages) == 1
