"""What several benchmarks share: a throw-away PostgreSQL database, p50/p95, a web sign-in,
valid USCCs, and the pending-review columns of a document waiting in the queue.

Used by ``bench.review``, ``bench.api`` and ``bench.growth`` (run by hand, not in tests).
"""

from __future__ import annotations

import os
import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import Engine
from sqlmodel import Session

from archive import tokens
from archive import users as user_service
from models.document import has_anomaly
from models.user import User
from models.validation import uscc_check_char

#: The PostgreSQL server the benches create their databases on (``BENCH_PG_ADMIN_DSN``).
ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
PASSWORD = "bench-password-1"
#: Review reasons a pending document carries (one or two, else ``second_check``).
REASONS = ["low_ocr_confidence", "missing_field", "invalid_check_digit", "expired", "unlinked",
           "possible_duplicate", "field_mismatch"]  # fmt: skip


def admin_sql(statement: sql.Composable) -> None:
    """Run one statement on the server's ``postgres`` database (autocommit)."""
    with psycopg.connect(os.environ.get("BENCH_PG_ADMIN_DSN", ADMIN_DSN), autocommit=True) as c:
        c.execute(statement)


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A new empty PostgreSQL database (UTF-8); its SQLAlchemy URL; dropped afterwards."""
    name = f"dossier_bench_{uuid.uuid4().hex[:10]}"
    admin_sql(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
        sql.Identifier(name)))  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin_sql(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def vacuum_analyze(engine: Engine) -> None:
    """What autovacuum does on a live database after a bulk insert: statistics, and the
    visibility map that lets covering indexes answer without reading the table (SQLite:
    ``ANALYZE``)."""
    statement = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(statement)


def p50_p95(values: list[float]) -> tuple[float, float]:
    """Median and 95th percentile (nearest rank)."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def web_login(client: Any, username: str, password: str = PASSWORD) -> None:
    """Sign in to the web UI with a TestClient or httpx client (CSRF token from the form)."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    client.post("/login", data={"username": username, "password": password,
                                "csrf_token": token.group(1)})  # fmt: skip


def uscc(n: int) -> str:
    """A valid unified social credit code numbered ``n`` (distinct for distinct ``n``)."""
    body = f"91310000{n:09d}"
    return body + uscc_check_char(body)


def pending_review(rng: random.Random) -> dict[str, Any]:
    """The columns of a document waiting for review: one or two reasons (else
    ``second_check``), and the stored anomaly flag the queue orders by."""
    reasons = rng.sample(REASONS, rng.choice((0, 1, 1, 2))) or ["second_check"]
    return {"status": "pending_review", "review_reasons": reasons,
            "is_anomaly": has_anomaly(reasons)}  # fmt: skip


def time_gets(client: Any, paths: list[str]) -> list[float]:
    """GET each path in turn (each must answer 200); the milliseconds of each."""
    timings = []
    for path in paths:
        start = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return timings


def api_token(engine: Engine, username: str, role: str) -> str:
    """A new user with ``role`` and a personal API token of theirs (the secret)."""
    user = create_user(engine, username, role)
    with Session(engine) as session:
        token, _row = tokens.create_token(session, user, name="bench")
        session.commit()
    return token


def create_user(engine: Engine, username: str, role: str) -> User:
    """A new active user with ``role`` and the password :data:`PASSWORD`."""
    with Session(engine) as session:
        user = user_service.create_user(
            session, username=username, password=PASSWORD, role=role, actor="bench"
        )
        session.commit()
        session.refresh(user)
        session.expunge(user)
    return user


def wait_for_quiet(limit: float, *, poll_s: float = 15.0) -> float:
    """Block until the 1-minute load average is below ``limit`` (0: at once) and, when the
    environment names one in ``BENCH_START_AFTER``, a file exists; the load then.

    Lets a bench seed while the machine is busy and measure once it is quiet (e.g. once a
    test run has written its last line)."""
    after = os.environ.get("BENCH_START_AFTER")
    while after and not Path(after).exists():
        time.sleep(poll_s)
    while limit > 0 and os.getloadavg()[0] >= limit:
        sys.stderr.write(f"waiting for a quiet machine: load {os.getloadavg()[0]:.1f}\n")
        time.sleep(poll_s)
    return os.getloadavg()[0]
