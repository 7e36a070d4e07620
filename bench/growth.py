"""Benchmark: how listing, search, the review queue and a full integrity check grow with the
number of documents (issue 14, item 7). Run by hand, not in tests::

    .venv/bin/python -m bench.growth --sizes 1000,10000,100000 [--runs 30] [--size 16384]
        [--pending-share 0.1] [--check-workers 4] [--out DIR] [--report FILE]

For each size N, on a throw-away PostgreSQL database (127.0.0.1:5432, user postgres; another
server: ``BENCH_PG_ADMIN_DSN``):

1. Seeds with :func:`bench.integrity.generate_archive`: N/4 customers with one document of each
   of four types, every document with two real objects (a one-page PDF with a text layer and an
   original, about ``--size`` bytes each) in a local store under ``--out``; each row carries the
   customer's name and a valid USCC in its fields and OCR text (what search looks for), and
   every ``1/--pending-share``-th document waits for review with the reasons
   :func:`bench.common.pending_review` gives (as bench/review.py's queue). Then
   ``VACUUM ANALYZE``, as autovacuum would.
2. Times ``--runs`` requests per measure, in process (FastAPI TestClient: server time, no
   network), after one warm-up request each: the web customer list and one customer's page
   (the web UI lists documents per customer; it has no list of all documents), the API's
   document list (``GET /api/v1/documents``: first page, and a random cursor), search
   (``/search``: a customer-name fragment, an 8-digit USCC fragment), and the review queue
   (first page; a random page with or without a filter, as bench/review.py).
3. Runs one full integrity check (objects hashed, every PDF opened by pypdf: a first run) and
   one metadata-only check, each in a fresh process (:func:`bench.integrity.measure`).

Prints a Markdown table (rows N, columns the measures, cells ``p50 / p95`` in ms, checks in
wall seconds) with the load average; ``--report`` also writes it to a file, and
``<out>/results.json`` keeps every figure. Objects of each size are deleted after it unless
``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi.testclient import TestClient

from archive.storage import LocalObjectStore
from bench.common import (
    api_token,
    create_user,
    p50_p95,
    pending_review,
    throwaway_database,
    time_gets,
    uscc,
    vacuum_analyze,
    web_login,
)
from bench.integrity import RowExtra, generate_archive, measure_in_subprocess
from bench.review import queue_paths
from config import load_settings
from models.db import make_engine
from web.app import create_app

SIZES = (1_000, 10_000, 100_000)
API = "/api/v1"
QUEUE_PAGE = 50  # web.routes.queue.PAGE_SIZE
#: What a licence page says besides its name and code (about 200 characters of OCR text).
FILLER = (
    "营业执照 类型 有限责任公司 法定代表人 张伟 注册资本 人民币伍佰万元整 成立日期 2015年03月18日 "
    "营业期限 长期 经营范围 计算机软硬件的技术开发、技术咨询、技术服务，电子产品、通讯设备的销售，"
    "货物及技术的进出口业务（依法须经批准的项目，经相关部门批准后方可开展经营活动） 登记机关 "
)

#: The measured requests, in the table's order (column label, key).
MEASURES = (
    ("web: customer list", "customers"),
    ("web: one customer's page", "customer"),
    ("API: documents, first page", "api_first"),
    ("API: documents, random cursor", "api_cursor"),
    ("search: name fragment", "search_name"),
    ("search: USCC fragment", "search_code"),
    ("queue: first page", "queue_first"),
    ("queue: random page, filters", "queue_page"),
)


def customer_uscc(customer_id: int) -> str:
    """The customer's USCC: digits spread like real ones (numbered ``n`` they would be mostly
    zeros, and an eight-digit fragment would match thousands)."""
    return uscc((customer_id * 7919 + 104729) % 10**9)


def row_extra(*, documents: int, pending_share: float, now: datetime) -> RowExtra:
    """The columns :func:`generate_archive` lays over each generated row (see the module doc).

    Creation times one second apart, newest last (a day apart at most for 100,000: the queue's
    order, and no pending document old enough to be reported as waiting too long).
    """
    every = round(1 / pending_share) if pending_share > 0 else 0

    def extra(i: int, customer: tuple[int, str], doc_type: str) -> dict[str, Any]:
        cid, name = customer
        code = customer_uscc(cid)
        stamp = now - timedelta(seconds=documents - i)
        # every row has the same keys (``is_anomaly`` too): one multi-row INSERT per batch
        row: dict[str, Any] = {
            "fields": {"name": {"value": name, "confidence": 0.93},
                       "uscc": {"value": code, "confidence": 0.91}},
            "ocr_text": f"名称 {name} 统一社会信用代码 {code} {FILLER}{doc_type}",
            "ocr_confidence": 0.9, "is_anomaly": False, "created_at": stamp,
            "updated_at": stamp,
        }  # fmt: skip
        if every and i % every == 0:
            row.update(pending_review(random.Random(i)))
        return row

    return extra


def seed(url: str, root: Path, *, documents: int, size: int, pending_share: float) -> (
        dict[str, Any]):  # fmt: skip
    """Objects and rows (see the module doc), the reviewer ``bench`` and an admin's API token."""
    started = time.perf_counter()
    extra = row_extra(documents=documents, pending_share=pending_share, now=datetime.now(UTC))
    gen = generate_archive(db_url=url, store=LocalObjectStore(root), docs=documents, size=size,
                           extra=extra)  # fmt: skip
    engine = make_engine(url)
    try:
        token = api_token(engine, "admin", "admin")
        create_user(engine, "bench", "reviewer")  # the web user
        vacuum_analyze(engine)
        with engine.connect() as conn:
            customers = conn.execute(sa.text("SELECT id, code, name FROM customer")).all()
            pending = conn.execute(sa.text(
                "SELECT count(*) FROM document WHERE status = 'pending_review'")).scalar_one()
    finally:
        engine.dispose()
    return {"seconds": round(time.perf_counter() - started, 1), "objects": gen["objects"],
            "customers": [(int(i), str(c), str(n)) for i, c, n in customers],
            "pending": int(pending),
            "token": token}  # fmt: skip


def request_paths(seeded: dict[str, Any], *, documents: int, runs: int,
                  rng: random.Random) -> dict[str, list[str]]:  # fmt: skip
    """Per measure, the ``runs`` paths to ask (random customers, cursors and fragments)."""
    customers = seeded["customers"]

    def pick() -> tuple[int, str, str]:
        return rng.choice(customers)

    def name_fragment() -> str:
        return quote(pick()[2][3:9])  # e.g. 户01234 of 基准客户012345有限公司: ten customers

    def code_fragment() -> str:
        return customer_uscc(pick()[0])[9:17]  # eight of its nine digits: one customer

    last_page = max(1, -(-seeded["pending"] // QUEUE_PAGE))
    makers: dict[str, Callable[[], str]] = {
        "customers": lambda: "/customers",
        "customer": lambda: f"/customers/{pick()[1]}",
        "api_first": lambda: f"{API}/documents?limit=50",
        "api_cursor": lambda: f"{API}/documents?limit=50&cursor={rng.randint(1, documents)}",
        "search_name": lambda: f"/search?q={name_fragment()}",
        "search_code": lambda: f"/search?q={code_fragment()}",
        "queue_first": lambda: "/queue",
    }
    paths = {key: [make() for _ in range(runs)] for key, make in makers.items()}
    paths["queue_page"] = queue_paths(rng, runs, last_page=last_page)
    return paths


def measure_pages(url: str, root: Path, seeded: dict[str, Any], *, documents: int, runs: int,
                  home: Path) -> dict[str, tuple[float, float]]:  # fmt: skip
    """``(p50, p95)`` ms per measure, warm-up request excluded."""
    engine = make_engine(url)
    settings = load_settings(home=home, database_url=url, api_rate_limit_per_minute=0)
    app = create_app(settings, engine=engine, store=LocalObjectStore(root))
    paths = request_paths(seeded, documents=documents, runs=runs, rng=random.Random(documents))
    try:
        with TestClient(app) as web, TestClient(app) as api:
            web_login(web, "bench")
            api.headers["Authorization"] = f"Bearer {seeded['token']}"
            out = {}
            for _label, key in MEASURES:
                client = api if key.startswith("api") else web
                time_gets(client, paths[key][:1])
                out[key] = p50_p95(time_gets(client, paths[key]))
            return out
    finally:
        engine.dispose()


def measure_checks(url: str, root: Path, *, workers: int) -> dict[str, dict[str, Any]]:
    """One full check (a first run: every object hashed, every PDF opened), then one
    metadata-only check, each in a fresh process."""
    return {
        mode: measure_in_subprocess(db_url=url, storage_url=root.as_uri(), endpoint=None,
                                    mode=mode, workers=workers)
        for mode in ("full", "metadata")
    }  # fmt: skip


def run_size(url: str, workdir: Path, *, documents: int, size: int, pending_share: float,
             runs: int, check_workers: int) -> dict[str, Any]:  # fmt: skip
    """Seed an empty database at ``url`` with ``documents`` documents and measure everything."""
    root = workdir / f"objects-{documents}"
    load_before = os.getloadavg()
    seeded = seed(url, root, documents=documents, size=size, pending_share=pending_share)
    pages = measure_pages(url, root, seeded, documents=documents, runs=runs,
                          home=workdir / f"home-{documents}")  # fmt: skip
    checks = measure_checks(url, root, workers=check_workers)
    return {
        "documents": documents, "customers": len(seeded["customers"]),
        "pending": seeded["pending"], "objects": seeded["objects"],
        "seed_seconds": seeded["seconds"], "pages_ms": pages, "checks": checks,
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip


def _check_cell(run: dict[str, Any]) -> str:
    cell = f"{run['seconds']:.1f}"
    return cell if not run.get("findings") else f"{cell} ({run['findings']} findings)"


def report(results: list[dict[str, Any]], *, runs: int, size: int, pending_share: float) -> str:
    """The Markdown table: one row per size, ``p50 / p95`` ms per measure, checks in seconds."""
    head = ["documents", *(label for label, _ in MEASURES), "full check s", "metadata check s",
            "seed s", "load (1 min) before, after"]  # fmt: skip
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} "
        f"cores, Python {platform.python_version()}), PostgreSQL on 127.0.0.1, local store; "
        f"objects of {size // 1024} KiB, {pending_share:.0%} of documents pending review, "
        f"{runs} requests per measure (ms, p50 / p95, in-process TestClient).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in results:
        cells = [f"{r['documents']:,}"]
        cells += [f"{r['pages_ms'][key][0]:.1f} / {r['pages_ms'][key][1]:.1f}"
                  for _, key in MEASURES]  # fmt: skip
        cells += [_check_cell(r["checks"]["full"]), _check_cell(r["checks"]["metadata"]),
                  f"{r['seed_seconds']:.0f}",
                  f"{r['load_avg_before'][0]:.1f}, {r['load_avg_after'][0]:.1f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__)
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES),
                        help="document counts, comma-separated")  # fmt: skip
    parser.add_argument("--runs", type=int, default=30, help="requests per measure")
    parser.add_argument("--size", type=int, default=16 * 1024, help="bytes per object")
    parser.add_argument("--pending-share", type=float, default=0.1)
    parser.add_argument("--check-workers", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None, help="objects and results.json")
    parser.add_argument("--report", type=Path, help="also write the table to this file")
    parser.add_argument("--keep", action="store_true", help="keep each size's objects")
    args = parser.parse_args(argv)
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="dossier-bench-growth-"))
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for documents in (int(n) for n in args.sizes.split(",")):
        with throwaway_database() as url:
            results.append(run_size(url, out, documents=documents, size=args.size,
                                    pending_share=args.pending_share, runs=args.runs,
                                    check_workers=args.check_workers))  # fmt: skip
        if not args.keep:
            shutil.rmtree(out / f"objects-{documents}", ignore_errors=True)
        sys.stderr.write(f"{documents:,} documents done\n")
        (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    text = report(results, runs=args.runs, size=args.size, pending_share=args.pending_share)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    print(text)  # noqa: T201


if __name__ == "__main__":
    main()
