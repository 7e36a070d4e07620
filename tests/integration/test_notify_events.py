"""Notifications beyond expiry (issue 13, item 3) on SQLite and PostgreSQL, to a real SMTP
server (aiosmtpd) and a webhook receiver checking the signature: a rejected document goes to
its submitter, a quarantined file to its submitter (or the admins when nobody is known), an
integrity run's new critical findings to the admins, an incomplete checklist to the customer's
owner. Each goes out once, through the one delivery path, and every send is audited."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.context import AppContext
from app.notify import notify_all
from archive import users as user_service
from archive.review import reject
from ingest.intake import drop_file
from models import repo
from models.audit import AuditEvent
from models.db import utcnow
from tests.fixtures.db import make_id_number
from tests.fixtures.ingest import open_services, test_settings
from tests.integration.test_notifications import SECRET, Hook, Inbox, smtp, webhook  # noqa: F401

pytestmark = pytest.mark.timeout(600)
PASSWORD = "a-long-password"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSSIER_TEST_WEBHOOK_SECRET", SECRET)


def _users(engine: Engine) -> None:
    with Session(engine) as session:
        for name, role, email in (
            ("boss", "admin", "boss@example.com"),
            ("rev1", "reviewer", None),
            ("sales1", "sales", "Sales1@Example.COM"),
            ("sales2", "sales", None),
        ):
            user_service.create_user(
                session, username=name, password=PASSWORD, role=role, email=email, actor="test"
            )
        session.commit()


def _customer(engine: Engine, name: str, owner: str, n: int) -> str:
    with Session(engine) as session:
        user = repo.get_user(session, username=owner)
        assert user is not None
        customer = repo.create_customer(
            session,
            data={
                "name": name,
                "customer_type": "individual",
                "id_number": make_id_number(n),
                "owner_id": user.id,
            },
            actor="test",
        )
        session.commit()
        return customer.code


def _document(engine: Engine, n: int, **data: object) -> int:
    with Session(engine) as session:
        doc = repo.create_document(
            session,
            actor="test",
            data={
                "document_type": "id_card",
                "original_filename": f"扫描{n}.jpg",
                "original_sha256": hashlib.sha256(f"doc {n}".encode()).hexdigest(),
                "original_size": 100,
                "submitted_date": date(2026, 12, 1),
                **data,
            },
        )
        session.commit()
        return doc.id or 0


def _reject(engine: Engine, document_id: int) -> None:
    with Session(engine) as session:
        reviewer = repo.get_user(session, username="rev1")
        assert reviewer is not None
        reject(session, document_id=document_id, user=reviewer, reason="照片模糊，请重新拍摄")


def test_each_event_reaches_its_people_once_and_is_audited(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    smtp: tuple[int, Inbox],  # noqa: F811
    webhook: tuple[str, Hook],  # noqa: F811
) -> None:
    url, hook = webhook
    settings = test_settings(
        home=tmp_path / "home", database_url=db_url, smtp_host="127.0.0.1", smtp_port=smtp[0],
        smtp_tls="off", webhook_url=url, webhook_secret_env="DOSSIER_TEST_WEBHOOK_SECRET",
        notify_lookback_days=30, checklist_notice_days=14,
    )  # fmt: skip
    ctx = AppContext(settings=settings)
    ctx.store.ensure_ready()
    _users(engine)
    own = _customer(engine, "王小明", owner="sales1", n=1)
    _customer(engine, "李四", owner="sales2", n=2)  # its owner has no address: webhook only
    rejected = _document(engine, 1, submitted_by="sales1")
    _reject(engine, rejected)
    _document(engine, 2, status="archived", pdf_key="gone/2.pdf", original_key="gone/2.jpg")
    intake = Path(settings.intake_dir or "")
    drop_file(b"%PDF-1.4 broken", "合同.pdf", intake / "sales1", submitted_by="sales1")
    (intake / "loose.pdf").write_bytes(b"%PDF-1.4 also broken")
    with open_services(settings=settings, engine=ctx.engine, store=ctx.store) as services:
        from app.intake_pass import run_pass

        run_pass(services, settle=False)
    from app.integrity_check import run_integrity_check

    assert run_integrity_check(ctx, mode="metadata")["counts"]["critical"] >= 1

    later = utcnow() + timedelta(days=15)  # the checklists are now 15 days old
    report = notify_all(ctx, now=later)
    assert report.failed == [], report.failed
    mails = smtp[1].messages
    by_to = Counter(m["To"] for m in mails)
    assert by_to == {"Sales1@example.com": 3, "boss@example.com": 2}, by_to
    subjects = {m["To"]: sorted(x["Subject"] for x in mails if x["To"] == m["To"]) for m in mails}
    mine = " ".join(subjects["Sales1@example.com"])
    assert "【资料被驳回】" in mine and "【文件被隔离】合同.pdf" in mine
    assert f"【资料清单未齐】客户 王小明（{own}）仍缺少身份证" in mine
    admins = " ".join(subjects["boss@example.com"])
    assert "【完整性检查】发现" in admins and "【文件被隔离】loose.pdf" in admins
    body = next(m for m in mails if "驳回" in m["Subject"]).get_content()
    assert "照片模糊，请重新拍摄" in body and f"资料 #{rejected}" in body

    events = Counter(r["body"]["event"] for r in hook.received)
    assert events == {
        "document_rejected": 1, "file_quarantined": 2, "integrity_critical": 1,
        "checklist_incomplete": 2,
    }, events  # fmt: skip
    assert all(r["valid"] for r in hook.received)
    assert len(report.sent) == 5 + 6

    with Session(engine) as session:
        audited = session.exec(
            select(AuditEvent).where(AuditEvent.action == "notification.send")
        ).all()
    assert len(audited) == 11
    assert {a.entity_type for a in audited} == {"notification"}
    assert all(a.actor == "system" and a.detail for a in audited)
    assert {a.after["recipient"] for a in audited if a.after} >= {"boss@example.com", url}

    again = notify_all(ctx, now=later)
    assert (again.sent, again.already_sent) == ([], 11)
    assert len(smtp[1].messages) == 5 and len(hook.received) == 6


def test_an_event_older_than_the_lookback_is_not_announced(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    webhook: tuple[str, Hook],  # noqa: F811
) -> None:
    url, hook = webhook
    settings = test_settings(
        home=tmp_path / "home", database_url=db_url, webhook_url=url,
        webhook_secret_env="DOSSIER_TEST_WEBHOOK_SECRET", checklist_notice_days=0,
    )  # fmt: skip
    ctx = AppContext(settings=settings)
    _users(engine)
    _reject(engine, _document(engine, 1, submitted_by="sales1"))
    assert notify_all(ctx, now=utcnow() + timedelta(days=8)).events == 0  # lookback: 7 days
    report = notify_all(ctx)
    assert [r["body"]["event"] for r in hook.received] == ["document_rejected"]
    assert report.events == 1
