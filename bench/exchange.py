"""Benchmark: import and export of N customers (issue 17): rows per second and peak memory.

Run by hand (not a test): ``.venv/bin/python -m bench.exchange [--rows 100000] [--format xlsx]``.
Writes a template file of N valid enterprise customers, then in a fresh child process (so its
peak resident memory is the import's own) imports it into a throw-away SQLite database and
exports the list again (masked), and prints one JSON line per phase.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook

from archive.exchange.columns import HEADERS
from models.validation import uscc_check_char


def _row(n: int) -> dict[str, str]:
    body = f"91310000{n:09d}"
    return {"客户名称": f"基准{n}号科技有限公司", "客户类型": "企业客户",
            "统一社会信用代码": body + uscc_check_char(body), "法定代表人": "张三",
            "成立时间": "2015-03-12", "地址": "上海市浦东新区世纪大道1号",
            "联系方式": f"139{n:08d}", "电子邮箱": f"c{n}@example.com",
            "所属行业": "制造业"}  # fmt: skip


def write_file(path: Path, rows: int) -> None:
    """N valid rows in the template's columns (XLSX write-only or CSV)."""

    def cells(n: int) -> list[str]:
        return [_row(n).get(h, "") for h in HEADERS]

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


def _phase(name: str, path: Path, db: Path) -> None:
    """One phase in this (child) process; prints its JSON line."""
    from archive.customer_query import CustomerFilter
    from archive.exchange.export import export_customers
    from archive.exchange.importing import import_file
    from config import load_settings
    from models.db import make_engine, session_scope, upgrade_to_head
    from models.user import User

    engine = make_engine(f"sqlite:///{db}")
    upgrade_to_head(engine)
    settings = load_settings()
    actor = User(username="bench", role="admin", is_active=True)
    started = time.perf_counter()
    with session_scope(engine) as session:
        if name == "import":
            report = import_file(session, settings, actor, path)
            rows = report.created + report.updated + report.unchanged
            assert not report.rejected, report.rejected[:3]
        else:
            out = path.with_name("export" + path.suffix)
            rows = export_customers(session, settings, actor, CustomerFilter(),
                                    fmt=path.suffix[1:], output=out)["rows"]  # fmt: skip
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"phase": name, "rows": rows, "seconds": round(seconds, 1),
                      "rows_per_s": round(rows / seconds), "peak_rss_mib": peak}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    parser.add_argument("--phase", choices=("import", "export"))
    parser.add_argument("--file", type=Path)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    if args.phase:
        _phase(args.phase, args.file, args.db)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"customers.{args.format}"
        write_file(path, args.rows)
        print(json.dumps({"file": path.name, "bytes": path.stat().st_size, "rows": args.rows}))
        for phase in ("import", "export"):
            cmd = [sys.executable, "-m", "bench.exchange", "--phase", phase,
                   "--file", str(path), "--db", str(Path(tmp) / "bench.db")]  # fmt: skip
            subprocess.run(cmd, check=True, env=None, timeout=24 * 3600)


if __name__ == "__main__":
    main()
