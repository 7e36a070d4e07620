"""Users on SQLite and PostgreSQL: argon2 passwords, sign-in, throttling, roles, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from archive import users
from archive.permissions import Action, PermissionDeniedError, can, require
from archive.users import AuthenticationError, ThrottledError
from models import repo
from models.db import utcnow
from models.errors import ConflictError, NotFoundError, ValidationError

PASSWORD = "正确的密码-Secret1"


@pytest.fixture
def alice(session: Session):  # type: ignore[no-untyped-def]
    user = users.create_user(
        session,
        username="alice",
        password=PASSWORD,
        role="reviewer",
        display_name="审核员甲",
        actor="cli:root",
    )
    session.commit()
    return user


def test_create_user_hashes_with_argon2_and_audits_without_the_password(
    session: Session, alice
) -> None:  # type: ignore[no-untyped-def]
    assert alice.password_hash.startswith("$argon2id$")
    assert PASSWORD not in alice.password_hash
    events = repo.list_audit_events(session, entity_type="user", entity_id="alice")
    assert [e.action for e in events] == ["user.create"]
    assert events[0].actor == "cli:root" and events[0].after["role"] == "reviewer"
    assert PASSWORD not in str(events[0].after) and "password_hash" not in events[0].after


def test_create_user_refuses_duplicates_and_bad_values(session: Session, alice) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConflictError):
        users.create_user(session, username="alice", password=PASSWORD, role="sales", actor="x")
    with pytest.raises(ValidationError):
        users.create_user(session, username="bob", password="short", role="sales", actor="x")
    with pytest.raises(ValidationError):
        users.create_user(session, username="bob", password=PASSWORD, role="king", actor="x")
    with pytest.raises(ValidationError):
        users.create_user(session, username="b o b", password=PASSWORD, role="sales", actor="x")


def test_authenticate_success_and_identical_failures(session: Session, alice) -> None:  # type: ignore[no-untyped-def]
    assert users.authenticate(session, username=" alice ", password=PASSWORD).username == "alice"
    messages = set()
    for name, password in (("alice", "wrong-password"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationError) as info:
            users.authenticate(session, username=name, password=password)
        messages.add(info.value.message)
    users.disable_user(session, username="alice", actor="boss")
    session.commit()
    with pytest.raises(AuthenticationError) as info:
        users.authenticate(session, username="alice", password=PASSWORD)
    messages.add(info.value.message)
    assert messages == {"用户名或密码错误"}
    actions = [e.action for e in repo.list_audit_events(session, entity_type="user")]
    assert actions.count("user.login") == 1 and actions.count("user.login_failed") == 3


def test_throttling_locks_after_five_failures_across_sessions(
    engine: Engine, session: Session, alice
) -> None:  # type: ignore[no-untyped-def]
    t0 = utcnow()
    for i in range(users.MAX_FAILURES):
        with pytest.raises(AuthenticationError):
            users.authenticate(
                session, username="alice", password="nope", now=t0 + timedelta(seconds=i)
            )
    # Another process (another session) sees the lock, even with the right password.
    with Session(engine) as other, pytest.raises(ThrottledError) as info:
        users.authenticate(
            other, username="alice", password=PASSWORD, now=t0 + timedelta(minutes=1)
        )
    assert 0 < info.value.retry_after <= 15 * 60
    unlocked = t0 + timedelta(seconds=4) + users.THROTTLE_WINDOW + timedelta(seconds=1)
    assert (
        users.authenticate(session, username="alice", password=PASSWORD, now=unlocked).id
        == alice.id
    )
    assert users.throttle_remaining(session, username="alice", now=unlocked) == 0


def test_a_success_resets_the_failure_count(session: Session, alice) -> None:  # type: ignore[no-untyped-def]
    t0 = utcnow()
    for i in range(users.MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            users.authenticate(
                session, username="alice", password="nope", now=t0 + timedelta(seconds=i)
            )
    users.authenticate(session, username="alice", password=PASSWORD, now=t0 + timedelta(seconds=10))
    with pytest.raises(AuthenticationError):  # one more failure is not a lock
        users.authenticate(
            session, username="alice", password="nope", now=t0 + timedelta(seconds=11)
        )
    assert users.throttle_remaining(session, username="alice", now=t0 + timedelta(seconds=12)) == 0


def test_set_role_disable_and_list_are_audited(session: Session, alice) -> None:  # type: ignore[no-untyped-def]
    users.create_user(session, username="sam", password=PASSWORD, role="sales", actor="boss")
    changed = users.set_role(session, username="sam", role="reviewer", actor="boss")
    assert changed.role == "reviewer"
    users.disable_user(session, username="sam", actor="boss")
    session.commit()
    events = repo.list_audit_events(session, entity_type="user", entity_id="sam")
    assert [e.action for e in events] == ["user.create", "user.set_role", "user.disable"]
    assert events[1].before == {"role": "sales"} and events[1].after == {"role": "reviewer"}
    assert [u.username for u in users.list_users(session)] == ["alice", "sam"]
    assert [u.username for u in users.list_users(session, include_disabled=False)] == ["alice"]
    with pytest.raises(NotFoundError):
        users.set_role(session, username="ghost", role="admin", actor="boss")


def test_only_admins_manage_users_and_sales_cannot_review(session: Session, alice) -> None:  # type: ignore[no-untyped-def]
    sales = users.create_user(session, username="sam", password=PASSWORD, role="sales", actor="x")
    admin = users.create_user(session, username="root", password=PASSWORD, role="admin", actor="x")
    with pytest.raises(PermissionDeniedError) as info:
        require(alice, Action.MANAGE_USERS)
    assert info.value.code == "permission_denied"
    require(admin, Action.MANAGE_USERS)
    require(admin, Action.MANAGE_TAXONOMY)
    assert can(alice, Action.REVIEW) and not can(sales, Action.REVIEW)
    assert can(sales, Action.UPLOAD) and not can(sales, Action.VIEW_AUDIT)
