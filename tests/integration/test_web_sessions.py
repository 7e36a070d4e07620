"""Server-side web sessions on SQLite and PostgreSQL: storage, sliding and absolute expiry,
revocation (one, all of a user's, on disabling), cleaning, and the audited admin action."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from archive import users
from models import repo
from models.db import utcnow
from models.errors import NotFoundError
from models.web_session import WebSession

PASSWORD = "会话测试-Secret1"
IDLE = timedelta(hours=8)
ABSOLUTE = timedelta(days=7)


@pytest.fixture
def people(session: Session) -> dict[str, int]:
    ids = {}
    for name in ("alice", "bob"):
        user = users.create_user(
            session, username=name, password=PASSWORD, role="reviewer", actor="test"
        )
        ids[name] = int(user.id or 0)
    session.commit()
    return ids


def _start(session: Session, user_id: int, **kwargs) -> str:  # type: ignore[no-untyped-def]
    token, _row = repo.create_web_session(
        session, user_id=user_id, idle=IDLE, absolute=ABSOLUTE, **kwargs
    )
    session.commit()
    return token


def test_only_the_tokens_sha256_is_stored(session: Session, people: dict[str, int]) -> None:
    token = _start(session, people["alice"])
    rows = session.exec(select(WebSession)).all()
    assert len(rows) == 1 and len(token) >= 40
    assert rows[0].token_sha256 == repo.token_digest(token) != token
    found = repo.find_live_web_session(session, token=token)
    assert found is not None and found.user_id == people["alice"]
    assert repo.find_live_web_session(session, token=repo.token_digest(token)) is None
    assert repo.find_live_web_session(session, token="") is None


def test_expiry_slides_with_use_but_never_past_the_absolute_limit(
    session: Session, people: dict[str, int]
) -> None:
    t0 = utcnow()
    token, row = repo.create_web_session(
        session, user_id=people["alice"], idle=IDLE, absolute=ABSOLUTE, now=t0
    )
    assert row.expires_at == t0 + IDLE
    assert not repo.touch_web_session(
        session, row, idle=IDLE, absolute=ABSOLUTE, now=t0 + timedelta(seconds=30)
    )  # too recent to write
    t1 = t0 + IDLE - timedelta(minutes=1)
    assert repo.find_live_web_session(session, token=token, now=t1) is not None
    assert repo.touch_web_session(session, row, idle=IDLE, absolute=ABSOLUTE, now=t1)
    session.commit()
    assert repo.find_live_web_session(session, token=token, now=t0 + IDLE + timedelta(hours=1))
    idle_end = t1 + IDLE
    assert repo.find_live_web_session(session, token=token, now=idle_end) is None  # idle
    # Used every few hours, it still ends at the absolute limit.
    now = t1
    while now < t0 + ABSOLUTE - timedelta(hours=6):
        now += timedelta(hours=6)
        live = repo.find_live_web_session(session, token=token, now=now)
        assert live is not None
        repo.touch_web_session(session, live, idle=IDLE, absolute=ABSOLUTE, now=now)
    session.commit()
    assert row.expires_at == t0 + ABSOLUTE
    assert repo.find_live_web_session(session, token=token, now=t0 + ABSOLUTE) is None


def test_revoking_one_session_leaves_the_others(session: Session, people: dict[str, int]) -> None:
    first, second = _start(session, people["alice"]), _start(session, people["alice"])
    revoked = repo.revoke_web_session(session, token=first)
    session.commit()
    assert revoked is not None and revoked.revoked_at is not None
    assert repo.find_live_web_session(session, token=first) is None
    assert repo.find_live_web_session(session, token=second) is not None
    assert repo.revoke_web_session(session, token=first) is None  # already dead


def test_end_sessions_revokes_all_of_one_user_and_is_audited(
    session: Session, people: dict[str, int]
) -> None:
    alice = [_start(session, people["alice"]) for _ in range(3)]
    bob = _start(session, people["bob"])
    repo.revoke_web_session(session, token=alice[0])
    assert users.live_session_counts(session) == {"alice": 2, "bob": 1}
    assert users.end_sessions(session, username="alice", actor="boss") == 2
    session.commit()
    assert all(repo.find_live_web_session(session, token=t) is None for t in alice)
    assert repo.find_live_web_session(session, token=bob) is not None
    assert users.live_session_counts(session) == {"bob": 1}
    events = repo.list_audit_events(session, entity_type="user", entity_id="alice")
    last = events[-1]
    assert (last.action, last.actor, last.after) == (
        "user.end_sessions",
        "boss",
        {"sessions_ended": 2},
    )
    assert last.detail == "结束全部会话（2 个）"
    with pytest.raises(NotFoundError):
        users.end_sessions(session, username="ghost", actor="boss")


def test_disabling_a_user_revokes_their_sessions(session: Session, people: dict[str, int]) -> None:
    token = _start(session, people["bob"])
    users.disable_user(session, username="bob", actor="boss")
    session.commit()
    assert repo.find_live_web_session(session, token=token) is None
    event = repo.list_audit_events(session, entity_type="user", entity_id="bob")[-1]
    assert event.action == "user.disable" and event.detail == "结束全部会话（1 个）"


def test_a_new_password_ends_the_users_sessions(session: Session, people: dict[str, int]) -> None:
    bob, alice = _start(session, people["bob"]), _start(session, people["alice"])
    users.set_password(session, username="bob", password="another-password-9", actor="boss")
    session.commit()
    assert repo.find_live_web_session(session, token=bob) is None
    assert repo.find_live_web_session(session, token=alice) is not None
    event = repo.list_audit_events(session, entity_type="user", entity_id="bob")[-1]
    assert event.action == "user.set_password" and event.detail == "结束全部会话（1 个）"


def test_sessions_older_than_the_absolute_limit_are_deleted(
    session: Session, people: dict[str, int]
) -> None:
    now = utcnow()
    _start(session, people["alice"], now=now - ABSOLUTE - timedelta(minutes=1))
    recent = _start(session, people["alice"], now=now - ABSOLUTE + timedelta(minutes=1))
    repo.revoke_web_session(session, token=recent, now=now)
    assert repo.delete_old_web_sessions(session, absolute=ABSOLUTE, now=now) == 1
    session.commit()
    rows = session.exec(select(WebSession)).all()
    assert [r.token_sha256 for r in rows] == [repo.token_digest(recent)]
