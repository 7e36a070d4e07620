"""Benchmark: the customer list (客户列表) with 100,000 customers and 500,000 documents.

Run by hand (not a test)::

    .venv/bin/python -m bench.customers --customers 100000 --documents 500000 [--runs 30]

Creates a throw-away PostgreSQL database on 127.0.0.1:5432 (user postgres; another server:
``BENCH_PG_ADMIN_DSN``; or ``--database-url`` for an existing empty database), bulk-inserts
customers, their tags, contacts and documents (``bench.customer_seed``), and times the list
two ways for every case: the query alone (``archive.customer_query.list_customers``) and the
whole page (``GET /customers`` through FastAPI's TestClient, server time, signed in as an
admin or a sales user).

The seed fills the search grams of migration 0018 with the migration's own function (timed).
``--phase both`` (the default) first measures without migration 0016's indexes (dropped by
name after seeding) and without the gram path of 0018 (a one- or two-character term then takes
the plain ``LIKE``, as before 0018), then builds the indexes with the migration's own
statements (timed) and measures again with both. In a checkout without 0016 the database is
measured as it is. The result is a Markdown table on stdout (``--report FILE`` also writes it
to a file).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.common import wait_for_quiet
from bench.customer_seed import FILTERED, PASSWORD, TAGS, seed

#: ``--phase``: what "before" and "after" measure.
PHASES = {
    "both": "before: no 0016 indexes, plain search; after: 0016 indexes and 0018 grams",
    "before": "before only (no 0016 indexes, plain search)",
    "after": "after only (0016 indexes and 0018 grams)",
    "grams": "0016 indexes in both; before: plain search, after: with 0018 grams",
}
ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
PAGE_SIZE = 30  # web.routes.customers.PAGE_SIZE

# --- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row of the table: who looks, and the query strings to ask (one per run)."""

    label: str
    user: str  # "bench" (admin) or "sales0"
    queries: Callable[[random.Random], dict[str, Any]]


def _samples(engine: Engine) -> dict[str, list[Any]]:
    """Real values to search for: names, USCCs, phones and contact names of random customers."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT name, uscc, phone FROM customer WHERE uscc IS NOT NULL "
                    "ORDER BY id LIMIT 2000")
        ).all()  # fmt: skip
        contacts = conn.execute(sa.text("SELECT name FROM customer_contact LIMIT 2000")).all()
        total = conn.execute(sa.text("SELECT count(*) FROM customer")).scalar_one()
    return {"rows": rows, "contacts": [c[0] for c in contacts], "total": [total]}


def cases(samples: dict[str, list[Any]]) -> list[Case]:
    """The measured cases (the brief: first and deep page, filters, text search)."""
    rows, contacts = samples["rows"], samples["contacts"]
    deep = max(1, samples["total"][0] // PAGE_SIZE)

    def name_part(r: random.Random, size: int) -> str:
        name = r.choice(rows)[0]
        start = r.randrange(2, max(3, len(name) - size - 4))  # skip the city, keep the brand
        return name[start : start + size]

    return [
        Case("首页（默认：最近更新）", "bench", lambda r: {}),
        Case("深页（后半段随机页）", "bench", lambda r: {"page": r.randint(deep // 2, deep)}),
        Case("按客户编号排序，第 100 页", "bench", lambda r: {"sort": "code", "page": 100}),
        Case("累计金额从高到低", "bench", lambda r: {"sort": "-cumulative_amount"}),
        Case("筛选：客户状态", "bench", lambda r: {"status": r.choice(FILTERED)}),
        Case("筛选：价值层级", "bench", lambda r: {"tier": r.choice(["高价值", "中价值"])}),
        Case("筛选：一个标签", "bench", lambda r: {"tag": [r.choice(TAGS)]}),
        Case("筛选：两个标签 + 状态", "bench",
             lambda r: {"tag": r.sample(TAGS[:8], 2), "status": "won"}),
        Case("搜索：名称 4 字", "bench", lambda r: {"q": name_part(r, 4)}),
        Case("搜索：名称 2 字", "bench", lambda r: {"q": name_part(r, 2)}),
        Case("搜索：名称 1 字", "bench", lambda r: {"q": name_part(r, 1)}),
        Case("搜索：联系人姓名 2 字", "bench",
             lambda r: {"q": r.choice([c for c in contacts if len(c) == 2] or contacts)}),
        Case("搜索：联系电话 2 位数字", "bench", lambda r: {"q": r.choice(rows)[2][-2:]}),
        Case("搜索：统一社会信用代码片段", "bench",
             lambda r: {"q": r.choice(rows)[1][8 : 8 + r.randint(6, 10)]}),
        Case("搜索：联系电话片段", "bench", lambda r: {"q": r.choice(rows)[2][-r.randint(6, 8):]}),
        Case("搜索：联系人姓名", "bench", lambda r: {"q": r.choice(contacts)}),
        Case("销售专员：自己的客户首页", "sales0", lambda r: {}),
        Case("销售专员：搜索名称 3 字", "sales0", lambda r: {"q": name_part(r, 3)}),
        Case("销售专员：搜索名称 2 字", "sales0", lambda r: {"q": name_part(r, 2)}),
    ]  # fmt: skip


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _query_ms(engine: Engine, user_name: str, params: dict[str, Any]) -> float:
    """The list query alone (count + page), as the web page asks it."""
    from archive.customer_query import list_customers
    from models.user import User
    from web.routes.customers import DEFAULT_SORT, customer_filter

    with Session(engine) as session:
        user = session.exec(sa.select(User).where(User.username == user_name)).scalar_one()  # type: ignore[call-overload]
        filters = {k: v for k, v in params.items() if k not in ("page", "sort")}
        start = time.perf_counter()
        list_customers(
            session,
            user,
            customer_filter(filters, user),
            sort=params.get("sort", DEFAULT_SORT),
            limit=PAGE_SIZE,
            offset=(int(params.get("page", 1)) - 1) * PAGE_SIZE,
        )
        return (time.perf_counter() - start) * 1000


def _login(client: Any, username: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code in (302, 303), response.status_code


def measure(
    engine: Engine, url: str, *, runs: int, only: str = ""
) -> dict[str, tuple[float, float, float, float]]:
    """Per case: (query median, query p95, page median, page p95) in ms."""
    from urllib.parse import urlencode

    from fastapi.testclient import TestClient

    from archive.storage import LocalObjectStore
    from config import load_settings
    from web.app import create_app

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalObjectStore(Path(tmp) / "objects")
        store.ensure_ready()
        settings = load_settings(home=Path(tmp) / "home", database_url=url)
        app = create_app(settings, engine=engine, store=store)
        with TestClient(app) as admin, TestClient(app) as sales:
            _login(admin, "bench")
            _login(sales, "sales0")
            clients = {"bench": admin, "sales0": sales}
            for case in (c for c in cases(_samples(engine)) if only in c.label):
                rng = random.Random(case.label)
                queries = [case.queries(rng) for _ in range(runs)]
                _query_ms(engine, case.user, queries[0])  # warm the cache and the plan
                q_times = [_query_ms(engine, case.user, q) for q in queries]
                p_times = []
                for q in queries:
                    start = time.perf_counter()
                    response = clients[case.user].get("/customers?" + urlencode(q, doseq=True))
                    p_times.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200, (case.label, response.status_code)
                results[case.label] = (
                    statistics.median(q_times), _p95(q_times),
                    statistics.median(p_times), _p95(p_times),
                )  # fmt: skip
    return results


# --- the run ----------------------------------------------------------------------------------


def _admin_sql(statement: sql.Composable) -> None:
    with psycopg.connect(os.environ.get("BENCH_PG_ADMIN_DSN", ADMIN_DSN), autocommit=True) as c:
        c.execute(statement)


def index_migration() -> Any:
    """Migration 0016 as a module (its index names and statements), or None in an older
    checkout: then the database is measured as it is."""
    from models.db import MIGRATIONS_DIR

    path = MIGRATIONS_DIR / "versions" / "0016_customer_search_index.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("migration_0016", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _execute(engine: Engine, statements: list[str]) -> float:
    """Run statements in one transaction (VACUUM: outside any); returns the seconds."""
    start = time.perf_counter()
    for statement in statements:
        if statement.startswith("VACUUM"):
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(statement)
    with engine.begin() as conn:
        for statement in statements:
            if not statement.startswith("VACUUM"):
                conn.exec_driver_sql(statement)
    return time.perf_counter() - start


def _analyze(engine: Engine) -> None:
    _execute(engine, ["VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"])


@contextmanager
def _plain_search() -> Iterator[None]:
    """Searches take the plain ``LIKE`` (the gram path of migration 0018 switched off): the
    "before" phase measures the search as it was."""
    from archive import customer_query

    gram_rule = customer_query.lookup_grams
    customer_query.lookup_grams = lambda text, key: None  # type: ignore[assignment]
    try:
        yield
    finally:
        customer_query.lookup_grams = gram_rule


def _fill_grams(engine: Engine) -> float:
    """Migration 0018's fill of the search grams (the seed inserts rows directly)."""
    from models.repo.search_grams import fill_search_grams

    start = time.perf_counter()
    with engine.begin() as conn:
        fill_search_grams(conn)
    return time.perf_counter() - start


def run_phases(
    url: str, *, customers: int, documents: int, runs: int, phase: str, only: str = "",
    quiet: float = 0.0,
) -> dict[str, Any]:
    """Migrate, seed, measure "before" and/or "after" (see :data:`PHASES`); ``only``: just
    the cases whose label contains it."""
    from models.db import make_engine, upgrade_to_head

    engine = make_engine(url)
    migration = index_migration()
    out: dict[str, Any] = {"phase": phase}
    try:
        upgrade_to_head(engine)
        start = time.perf_counter()
        seed(engine, customers=customers, documents=documents)
        out["seed_s"] = time.perf_counter() - start
        out["grams_s"] = _fill_grams(engine)
        if phase in ("both", "before") and migration is not None:
            _execute(engine, [f"DROP INDEX IF EXISTS {name}" for name in migration.INDEX_NAMES])
        _analyze(engine)
        out["load_at_start"] = wait_for_quiet(quiet)
        if phase in ("both", "before", "grams"):
            with _plain_search():
                out["before"] = measure(engine, url, runs=runs, only=only)
        if phase == "both" and migration is not None:
            statements = migration.index_statements(engine.dialect.name)
            out["upgrade_s"] = _execute(engine, statements)
            _analyze(engine)
        if phase in ("both", "after", "grams"):
            out["after"] = measure(engine, url, runs=runs, only=only)
    finally:
        engine.dispose()
    return out


def report(out: dict[str, Any], *, customers: int, documents: int, runs: int) -> str:
    """The Markdown table of a run."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}), load {load}; "
        f"load when measuring began {out.get('load_at_start', float('nan')):.1f}; "
        f"{customers:,} customers, {documents:,} documents, {runs} runs per case; "
        f"phase {out.get('phase', '?')} ({PHASES.get(out.get('phase', ''), '')}); "
        f"seeding {out.get('seed_s', 0):.0f} s, filling migration 0018's search grams "
        f"{out.get('grams_s', 0):.1f} s"
        + (
            f", building migration 0016's indexes on the loaded data {out['upgrade_s']:.1f} s"
            if "upgrade_s" in out
            else ""
        ),
        "",
    ]
    phases = [p for p in ("before", "after") if p in out]
    head = " | ".join(f"{p}: query median / p95 ms | {p}: page median / p95 ms" for p in phases)
    lines += [f"| case | {head} |", "|---" * (1 + 2 * len(phases)) + "|"]
    for label in out[phases[0]]:
        cells = []
        for p in phases:
            qm, qp, pm, pp = out[p][label]
            cells += [f"{qm:.1f} / {qp:.1f}", f"{pm:.1f} / {pp:.1f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--documents", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--phase", choices=tuple(PHASES), default="both")
    parser.add_argument("--cases", default="", help="only cases whose label contains this")
    parser.add_argument("--database-url", help="an existing empty database (default: a new one)")
    parser.add_argument("--report", type=Path, help="also write the table to this file")
    parser.add_argument("--wait-quiet", type=float, default=0.0,
                        help="seed at once, measure once the 1-minute load is below this")
    args = parser.parse_args()
    name = None
    url = args.database_url
    if url is None:
        name = f"dossier_bench_{uuid.uuid4().hex[:10]}"
        _admin_sql(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
            sql.Identifier(name)))  # fmt: skip
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        out = run_phases(url, customers=args.customers, documents=args.documents,
                         runs=args.runs, phase=args.phase, only=args.cases,
                         quiet=args.wait_quiet)  # fmt: skip
    finally:
        if name is not None:
            _admin_sql(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))  # fmt: skip
    text = report(out, customers=args.customers, documents=args.documents, runs=args.runs)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    print(text)  # noqa: T201


if __name__ == "__main__":
    main()
