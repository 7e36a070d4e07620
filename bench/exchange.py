"""Benchmark: import and export of N customers (issue 17): rows per second and peak memory.

Run by hand (not a test):
``.venv/bin/python -m bench.exchange [--rows 100000] [--format xlsx] [--database postgresql]``.
Writes a template file of N valid enterprise customers, then each phase in a fresh child process
(so its peak resident memory is the phase's own) against a throw-away database (a SQLite file,
or a PostgreSQL database on 127.0.0.1:5432 as user postgres, another server:
``BENCH_PG_ADMIN_DSN``, dropped afterwards). ``--phases`` of: import, reimport (the same file
again, every row unchanged), update (the same customers with every phone number changed: an
edit each), export (the list, masked); one JSON line per phase. ``--profile FILE`` writes the
import phase's cProfile statistics.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from openpyxl import Workbook
from psycopg import sql

from archive.exchange.columns import HEADERS
from models.validation import uscc_check_char

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


def _row(n: int, phone: str = "139") -> dict[str, str]:
    body = f"91310000{n:09d}"
    return {"客户名称": f"基准{n}号科技有限公司", "客户类型": "企业客户",
            "统一社会信用代码": body + uscc_check_char(body), "法定代表人": "张三",
            "成立时间": "2015-03-12", "地址": "上海市浦东新区世纪大道1号",
            "联系方式": f"{phone}{n:08d}", "电子邮箱": f"c{n}@example.com",
            "所属行业": "制造业"}  # fmt: skip


def write_file(path: Path, rows: int, *, phone: str = "139") -> None:
    """N valid rows in the template's columns (XLSX write-only or CSV); ``phone``: the prefix of
    every phone number (another one makes every row an edit of the first file's customers)."""

    def cells(n: int) -> list[str]:
        return [_row(n, phone).get(h, "") for h in HEADERS]

    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(HEADERS)
            writer.writerows(cells(n) for n in range(rows))
        return
    book = Workbook(write_only=True)
    sheet = book.create_sheet("客户资料")
    sheet.append(list(HEADERS))
    for n in range(rows):
        sheet.append(cells(n))
    book.save(path)


def _phase(name: str, path: Path, url: str, profile: Path | None) -> None:
    """One phase in this (child) process; prints its JSON line."""
    from archive.customer_query import CustomerFilter
    from archive.exchange.export import export_customers
    from archive.exchange.importing import import_file
    from config import load_settings
    from models.db import make_engine, session_scope, upgrade_to_head
    from models.user import User

    engine = make_engine(url)
    upgrade_to_head(engine)
    settings = load_settings()
    actor = User(username="bench", role="admin", is_active=True)
    profiler = cProfile.Profile() if profile and name == "import" else None
    started, cpu = time.perf_counter(), time.process_time()
    with session_scope(engine) as session:
        if profiler:
            profiler.enable()
        if name in ("import", "reimport", "update"):
            changed = path.with_name("changed" + path.suffix)
            report = import_file(session, settings, actor, changed if name == "update" else path)
            rows = report.created + report.updated + report.unchanged
            assert not report.rejected, report.rejected[:3]
            done = {"import": report.created, "reimport": report.unchanged}
            assert done.get(name, report.updated) == rows, report
        else:
            out = path.with_name("export" + path.suffix)
            rows = export_customers(session, settings, actor, CustomerFilter(),
                                    fmt=path.suffix[1:], output=out)["rows"]  # fmt: skip
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)  # type: ignore[arg-type]
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    # On a shared machine the wall time depends on the load; the process's own CPU time does
    # far less (a PostgreSQL server's CPU time is not in it).
    print(json.dumps({"phase": name, "database": engine.dialect.name, "rows": rows,
                      "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
                      "cpu_seconds": round(cpu, 1), "rows_per_cpu_s": round(rows / cpu),
                      "peak_rss_mib": peak, "load": round(os.getloadavg()[0], 1)}),
          flush=True)  # fmt: skip


def _admin(statement: sql.Composable) -> None:
    with psycopg.connect(os.environ.get("BENCH_PG_ADMIN_DSN", ADMIN_DSN), autocommit=True) as c:
        c.execute(statement)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--phases", default="import,reimport,export")
    parser.add_argument("--profile", type=Path, help="cProfile output of the import phase")
    parser.add_argument("--phase", choices=("import", "reimport", "update", "export"))
    parser.add_argument("--file", type=Path)
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.phase:
        _phase(args.phase, args.file, args.url, args.profile)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"customers.{args.format}"
        write_file(path, args.rows)
        if "update" in args.phases:
            write_file(path.with_name("changed" + path.suffix), args.rows, phone="137")
        print(json.dumps({"file": path.name, "bytes": path.stat().st_size, "rows": args.rows}))
        name = f"dossier_bench_{uuid.uuid4().hex[:10]}"
        if args.database == "postgresql":
            _admin(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(name)))  # fmt: skip
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        try:
            for phase in args.phases.split(","):
                cmd = [sys.executable, "-m", "bench.exchange", "--phase", phase,
                       "--file", str(path), "--url", url]  # fmt: skip
                if args.profile:
                    cmd += ["--profile", str(args.profile)]
                subprocess.run(cmd, check=True, timeout=24 * 3600)
        finally:
            if args.database == "postgresql":
                _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))  # fmt: skip


if __name__ == "__main__":
    main()
