"""Benchmark: the customer list (客户列表) with 100,000 customers and 500,000 documents.

Run by hand (not a test)::

    .venv/bin/python -m bench.customers --customers 100000 --documents 500000 [--runs 30]

Creates a throw-away PostgreSQL database on 127.0.0.1:5432 (user postgres; another server:
``BENCH_PG_ADMIN_DSN``; or ``--database-url`` for an existing empty database), bulk-inserts
customers (names, USCCs or ID numbers, phones, statuses, tiers, owners), their tags, contacts
and documents, and times the list two ways for every case: the query alone
(``archive.customer_query.list_customers``) and the whole page (``GET /customers`` through
FastAPI's TestClient, server time, signed in as an admin or a sales user).

``--phase both`` (the default) first measures without migration 0016's indexes (dropped by
name after seeding), then builds them with the migration's own statements (timed) and measures
again. In a checkout without 0016 the database is measured as it is. The result is a Markdown
table on stdout (``--report FILE`` also writes it to a file).
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
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Engine
from sqlmodel import Session

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
PASSWORD = "bench-password-1"
SALES_USERS = 20
PAGE_SIZE = 30  # web.routes.customers.PAGE_SIZE
BATCH = 5000
FILTERED = ("won", "lost", "interested")

CITIES = "北京 上海 广州 深圳 杭州 南京 苏州 成都 重庆 武汉 西安 天津 长沙 郑州 青岛 宁波".split()
SYLLABLES = list("华星辰宏远恒通达瑞博鑫泰安康盛嘉信诚润智汇丰隆昌明德新海天宇中金云峰凯越蓝")
TRADES = "科技 智能 机械 电子 贸易 物流 医药 建材 食品 纺织 化工 软件 网络 咨询 环保 能源".split()
SUFFIXES = ["有限公司", "股份有限公司", "集团有限公司", "有限责任公司"]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰")
INDUSTRIES = [
    "制造业",
    "互联网",
    "金融",
    "零售",
    "IT服务",
    "教育",
    "医疗",
    "房地产",
    "物流",
    "其他",
]
REGIONS = ["华东", "华南", "华北", "华中", "西南", "西北", "东北"]
SOURCES = ["展会推广", "线上广告", "客户转介绍", "销售陌拜", "其他"]
TAGS = [*INDUSTRIES[:6], "高价值", "重点客户", "战略合作", "续约关注", "新客户", "老客户",
        "政府关系", "上市公司", "外资企业", "需回访", "价格敏感", "成交客户", "潜在客户",
        "意向客户", "流失风险", "VIP", "年度框架", "区域代理", "集采客户", "海外业务"]  # fmt: skip
DOC_TYPES = ["business_license", "bank_permit", "id_card", "customer_form", "contract", "other"]
EXPIRY = {"business_license": "term_end", "id_card": "valid_to", "contract": "expiry_date"}


def _uscc(n: int) -> str:
    from models.validation import uscc_check_char

    body = f"91330100{(n * 7919 + 104729) % 10**9:09d}"  # unique, digits spread like real ones
    return body + uscc_check_char(body)


def _id_number(n: int) -> str:
    from models.validation import id_check_digit

    born = date(1960, 1, 1) + timedelta(days=n // 900)
    body = f"330106{born:%Y%m%d}{n % 900 + 100:03d}"
    return body + id_check_digit(body)


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))


def _tier(amount: Decimal | None) -> str | None:
    if amount is None:
        return None
    return "高价值" if amount >= 500_000 else "中价值" if amount >= 100_000 else "普通"


def _customer(n: int, rng: random.Random, owners: list[int], now: datetime) -> dict[str, Any]:
    enterprise = rng.random() < 0.85
    name = (
        rng.choice(CITIES) + "".join(rng.sample(SYLLABLES, 2)) + rng.choice(TRADES)
        + rng.choice(SUFFIXES)
        if enterprise else _person(rng)
    )  # fmt: skip
    status = rng.choices(["prospect", "interested", "won", "lost"], [30, 25, 35, 10])[0]
    amount = None
    if status in ("won", "lost"):
        amount = Decimal(int(rng.paretovariate(1.2) * 40_000)).quantize(Decimal("0.01"))
    return {
        "code": f"CUS2026{n:06d}", "name": name, "name_key": name,
        "customer_type": "enterprise" if enterprise else "individual",
        "uscc": _uscc(n) if enterprise else None,
        "id_number": None if enterprise else _id_number(n),
        "legal_representative": _person(rng) if enterprise else None,
        "contact_person": _person(rng), "phone": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
        "industry": rng.choice(INDUSTRIES), "region": rng.choice(REGIONS),
        "source_channel": rng.choice(SOURCES), "status": status,
        "level": rng.choice(["A类大客户", "B类中小客户", "C类小客户"]),
        "owner_id": rng.choice(owners), "cumulative_amount": amount,
        "annual_amount": amount, "value_tier": _tier(amount),
        "decision_roles": [], "campaigns": [], "manual_fields": [], "version": 1,
        "created_by": "bench", "updated_by": "bench",
        "created_at": now - timedelta(days=rng.randrange(1000)),
        "updated_at": now - timedelta(minutes=rng.randrange(2 * 365 * 24 * 60)),
    }  # fmt: skip


def _document(i: int, customer_id: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    doc_type = rng.choice(DOC_TYPES)
    fields: dict[str, Any] = {}
    if doc_type in EXPIRY:
        end = date(2025, 1, 1) + timedelta(days=rng.randrange(6 * 365))
        fields[EXPIRY[doc_type]] = {"value": end.isoformat(), "confidence": 0.9}
    sha = f"{i:064x}"
    return {
        "customer_id": customer_id, "document_type": doc_type,
        "status": rng.choices(["archived", "pending_review", "superseded"], [85, 5, 10])[0],
        "submitted_date": date(2026, 1, 1), "original_filename": f"scan-{i}.pdf",
        "original_key": f"originals/{i}.pdf", "original_sha256": sha, "original_size": 1000,
        "pdf_key": f"archive/{i}.pdf", "pdf_sha256": sha, "pdf_size": 1000, "page_count": 1,
        "fields": fields, "review_reasons": [], "is_anomaly": False,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(engine: Engine, *, customers: int, documents: int, seed_value: int = 15) -> None:
    """Bulk-insert users, customers, tags, contacts and documents (portable SQL inserts)."""
    from archive import users as user_service
    from models.contact import Contact
    from models.customer import Customer
    from models.document import Document
    from models.tag import CustomerTag, Tag

    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    with Session(engine) as session:
        user_service.create_user(session, username="bench", password=PASSWORD, role="admin",
                                 actor="bench")  # fmt: skip
        owners = [
            user_service.create_user(session, username=f"sales{n}", password=PASSWORD,
                                     role="sales", actor="bench").id
            for n in range(SALES_USERS)
        ]  # fmt: skip
        session.add_all(Tag(name=t, created_by="bench", updated_by="bench") for t in TAGS)
        session.commit()
        tag_ids = list(range(1, len(TAGS) + 1))
        insert = {t: t.__table__.insert() for t in (Customer, Contact, Document, CustomerTag)}  # type: ignore[attr-defined]
        rows = (_customer(n, rng, owners, now) for n in range(1, customers + 1))  # type: ignore[arg-type]
        for batch in _batches(rows):
            session.execute(insert[Customer], batch)
        links = (
            {"customer_id": c, "tag_id": t, "created_by": "bench", "created_at": now}
            for c in range(1, customers + 1)
            for t in rng.sample(tag_ids, rng.choice((0, 1, 2, 2, 3, 3, 4, 5)))
        )
        for batch in _batches(links):
            session.execute(insert[CustomerTag], batch)
        contacts = (
            {"customer_id": c, "name": _person(rng), "mobile": f"139{rng.randrange(10**8):08d}",
             "phones": [], "is_primary": k == 0, "is_decision_maker": False,
             "created_by": "bench", "updated_by": "bench", "created_at": now, "updated_at": now}
            for c in range(1, customers + 1) for k in range(rng.choice((0, 1, 1, 2)))
        )  # fmt: skip
        for batch in _batches(contacts):
            session.execute(insert[Contact], batch)
        docs = (_document(i, rng.randint(1, customers), rng, now) for i in range(documents))
        for batch in _batches(docs):
            session.execute(insert[Document], batch)
        session.commit()


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
        Case("搜索：统一社会信用代码片段", "bench",
             lambda r: {"q": r.choice(rows)[1][8 : 8 + r.randint(6, 10)]}),
        Case("搜索：联系电话片段", "bench", lambda r: {"q": r.choice(rows)[2][-r.randint(6, 8):]}),
        Case("搜索：联系人姓名", "bench", lambda r: {"q": r.choice(contacts)}),
        Case("销售专员：自己的客户首页", "sales0", lambda r: {}),
        Case("销售专员：搜索名称 3 字", "sales0", lambda r: {"q": name_part(r, 3)}),
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


def measure(engine: Engine, url: str, *, runs: int) -> dict[str, tuple[float, float, float, float]]:
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
            for case in cases(_samples(engine)):
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


def run_phases(
    url: str, *, customers: int, documents: int, runs: int, phase: str
) -> dict[str, Any]:
    """Migrate, seed, measure without and/or with migration 0016's indexes."""
    from models.db import make_engine, upgrade_to_head

    engine = make_engine(url)
    migration = index_migration()
    out: dict[str, Any] = {}
    try:
        upgrade_to_head(engine)
        start = time.perf_counter()
        seed(engine, customers=customers, documents=documents)
        out["seed_s"] = time.perf_counter() - start
        if phase in ("both", "before") and migration is not None:
            _execute(engine, [f"DROP INDEX IF EXISTS {name}" for name in migration.INDEX_NAMES])
        _analyze(engine)
        if phase in ("both", "before"):
            out["before"] = measure(engine, url, runs=runs)
        if phase == "both" and migration is not None:
            statements = migration.index_statements(engine.dialect.name)
            out["upgrade_s"] = _execute(engine, statements)
            _analyze(engine)
        if phase in ("both", "after"):
            out["after"] = measure(engine, url, runs=runs)
    finally:
        engine.dispose()
    return out


def report(out: dict[str, Any], *, customers: int, documents: int, runs: int) -> str:
    """The Markdown table of a run."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}), load {load}; "
        f"{customers:,} customers, {documents:,} documents, {runs} runs per case; "
        f"seeding {out.get('seed_s', 0):.0f} s"
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
    parser.add_argument("--phase", choices=("both", "before", "after"), default="both")
    parser.add_argument("--database-url", help="an existing empty database (default: a new one)")
    parser.add_argument("--report", type=Path, help="also write the table to this file")
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
                         runs=args.runs, phase=args.phase)  # fmt: skip
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
