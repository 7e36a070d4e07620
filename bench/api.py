"""Benchmark: the REST API over real HTTP (issue 13): upload throughput, upload-to-archived
latency of a one-page scan, and the documents list p95 with 100,000 documents.

Run by hand (not a test): ``.venv/bin/python -m bench.api [--documents 100000] [--uploads 40]
[--scans 10] [--runs 100]``. Creates a throw-away PostgreSQL database on 127.0.0.1:5432 (user
postgres; another server: ``BENCH_PG_ADMIN_DSN``), serves the app with uvicorn on a free port
of 127.0.0.1 and talks to it with httpx, as a partner system would:

- uploads: ``POST /api/v1/documents`` of distinct one-page scans, one after the other, until
  each 202 (files per second and per-request p50/p95);
- upload to archived: for each of ``--scans`` scans, from the upload to its status ``filed``,
  with one intake pass (the same :func:`app.intake_pass.run_pass` as ``dossier serve``) run as
  soon as the upload returns, so the time is the API's plus the intake's, not the schedule's;
- list: ``GET /api/v1/documents`` (first page, filters, deep cursors) with ``--documents``
  documents bulk-inserted, as an admin token.

Prints one JSON line; docs/benchmarks.md keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from sqlmodel import Session

from app.intake_pass import IngestServices, run_pass
from archive.storage import LocalObjectStore
from bench.common import api_token, p50_p95, throwaway_database, uscc, vacuum_analyze
from bench.samples import generate, write_sample
from config import Settings, load_settings
from ingest.isolation import IsolatedPool
from models.customer import Customer
from models.db import make_engine, upgrade_to_head
from models.document import Document
from web.app import create_app

API = "/api/v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _served(settings: Settings, engine, store) -> Iterator[str]:  # type: ignore[no-untyped-def]
    app = create_app(settings, engine=engine, store=store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}{API}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _seed_documents(engine, count: int) -> None:  # type: ignore[no-untyped-def]
    """``count`` archived and pending documents over 500 customers (no objects: a list reads
    rows only)."""
    rng, now = random.Random(42), datetime.now(UTC)
    with Session(engine) as session:
        session.execute(Customer.__table__.insert(), [  # type: ignore[attr-defined]
            {"code": f"CUS2026{n:05d}", "name": f"基准测试企业{n}有限公司",
             "customer_type": "enterprise", "uscc": uscc(n), "status": "prospect",
             "created_by": "bench", "updated_by": "bench", "created_at": now, "updated_at": now}
            for n in range(1, 501)
        ])  # fmt: skip
        types = ["business_license", "id_card", "bank_permit", "contract", "customer_form"]
        for start in range(0, count, 5000):
            rows = []
            for i in range(start, min(count, start + 5000)):
                stamp = now - timedelta(minutes=count - i)
                rows.append({
                    "customer_id": rng.randint(1, 500), "document_type": rng.choice(types),
                    "status": rng.choice(["archived", "archived", "pending_review"]),
                    "submitted_date": date(2026, 1, 1) + timedelta(days=i % 330),
                    "original_filename": f"scan-{i}.pdf", "original_sha256": f"{i:064x}",
                    "original_size": 1000, "page_count": 1, "submitted_by": "sales",
                    "fields": {"name": {"value": f"基准测试企业{i}", "confidence": 0.9}},
                    "review_reasons": ["second_check"], "created_at": stamp, "updated_at": stamp,
                })  # fmt: skip
            session.execute(Document.__table__.insert(), rows)  # type: ignore[attr-defined]
        session.commit()


def _timed(client: httpx.Client, method: str, path: str, **kwargs: object) -> tuple[float, dict]:
    started = time.perf_counter()
    response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code in (200, 202), (path, response.status_code, response.text[:300])
    return elapsed, response.json()


def _scans(folder: Path, count: int, seed: int) -> list[bytes]:
    kinds = ["business_license", "id_card", "bank_permit"]
    return [
        write_sample(
            generate(kinds[n % 3], seed=seed + n, dpi=150), folder / f"s{seed + n}.png"
        ).read_bytes()
        for n in range(count)
    ]


def _pass(services: IngestServices) -> None:
    """One intake pass, as ``dossier serve`` runs it (each pass is its own ingest run)."""
    services.run_id = uuid.uuid4().hex
    run_pass(services, settle=False)


def bench_uploads(client: httpx.Client, scans: list[bytes]) -> dict[str, float]:
    timings = []
    started = time.perf_counter()
    for n, data in enumerate(scans):
        files = {"file": (f"扫描{n}.png", data, "image/png")}
        timings.append(_timed(client, "POST", "/documents", files=files)[0])
    seconds = time.perf_counter() - started
    median, p95 = p50_p95(timings)
    return {"files": len(scans), "per_second": round(len(scans) / seconds, 1),
            "median_ms": round(median, 1), "p95_ms": round(p95, 1)}  # fmt: skip


def bench_to_archived(
    client: httpx.Client, services: IngestServices, scans: list[bytes]
) -> dict[str, float]:
    latencies = []
    for n, data in enumerate(scans):
        started = time.perf_counter()
        files = {"file": (f"一页{n}.png", data, "image/png")}
        _ms, upload = _timed(client, "POST", "/documents", files=files)
        _pass(services)
        _ms, status = _timed(client, "GET", upload["status_url"].removeprefix(API))
        assert status["status"] == "filed", status
        latencies.append(time.perf_counter() - started)
    median, p95 = p50_p95(latencies)
    return {"scans": len(scans), "p50_s": round(median, 2), "p95_s": round(p95, 2)}


def bench_list(client: httpx.Client, runs: int) -> dict[str, dict[str, float]]:
    rng = random.Random(1)
    first = _timed(client, "GET", "/documents?limit=50")[1]
    cursors = [first["next_cursor"]]
    for _ in range(40):  # walk 40 pages deep to collect real cursors (fewer in a small set)
        if cursors[-1] is None:
            break
        page = _timed(client, "GET", f"/documents?limit=50&cursor={cursors[-1]}")[1]
        cursors.append(page["next_cursor"])
    cursors = [c for c in cursors if c is not None] or [first["items"][-1]["id"]]
    shapes = {
        "first page": lambda: "/documents?limit=50",
        "status + type filter": lambda: (
            "/documents?status=archived&document_type="
            + rng.choice(["business_license", "id_card", "contract"])
        ),
        "one customer": lambda: f"/documents?customer=CUS2026{rng.randint(1, 500):05d}",
        "deep cursor": lambda: f"/documents?limit=50&cursor={rng.choice(cursors)}",
    }
    out = {}
    for label, make in shapes.items():
        median, p95 = p50_p95([_timed(client, "GET", make())[0] for _ in range(runs)])
        out[label] = {"median_ms": round(median, 1), "p95_ms": round(p95, 1)}
    return out


def run(*, documents: int, uploads: int, scans: int, runs: int) -> dict[str, object]:
    with throwaway_database() as url, tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(url)
        upgrade_to_head(engine)
        store = LocalObjectStore(Path(tmp) / "objects")
        store.ensure_ready()
        settings = load_settings(home=Path(tmp) / "home", database_url=url,
                                 api_rate_limit_per_minute=0, settle_seconds=0.0)  # fmt: skip
        settings.ensure_dirs()
        sales, admin = api_token(engine, "sales", "sales"), api_token(engine, "admin", "admin")
        files = _scans(Path(tmp), uploads + scans, seed=1000)
        result: dict[str, object] = {"bench": "api", "documents": documents}
        with _served(settings, engine, store) as base:
            with httpx.Client(base_url=base, timeout=120,
                              headers={"Authorization": f"Bearer {sales}"}) as client:  # fmt: skip
                result["upload"] = bench_uploads(client, files[:uploads])
                with IsolatedPool(1, timeout_seconds=300, memory_limit_mb=2048) as pool:
                    services = IngestServices(settings=settings, engine=engine, store=store,
                                              pool=pool)  # fmt: skip
                    _pass(services)  # files the throughput uploads first
                    result["upload_to_archived"] = bench_to_archived(
                        client, services, files[uploads:]
                    )
            _seed_documents(engine, documents)
            vacuum_analyze(engine)
            with httpx.Client(base_url=base, timeout=120,
                              headers={"Authorization": f"Bearer {admin}"}) as client:  # fmt: skip
                result["list"] = bench_list(client, runs)
        engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--uploads", type=int, default=40)
    parser.add_argument("--scans", type=int, default=10)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    result = run(documents=args.documents, uploads=args.uploads, scans=args.scans, runs=args.runs)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
