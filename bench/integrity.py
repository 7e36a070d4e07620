"""Benchmark of the archive integrity check (run by hand, not in tests).

    .venv/bin/python -m bench.integrity all --out /tmp/dossier-bench-integrity
    .venv/bin/python -m bench.integrity local --out /tmp/bench-48k --size 49152
    .venv/bin/python -m bench.integrity local --out /tmp/bench-256k --size 262144
    .venv/bin/python -m bench.integrity scale --out /tmp/bench-scale

1. Local: a generated archive of ``--local-docs`` documents (two objects each: a small PDF
   and an "original" of ``--size`` bytes), timed in full mode twice (the first run opens every
   PDF with pypdf; the second finds them proven by the first and only hashes them), then
   incremental (nothing due; then 1/7 due) and metadata mode, beside ``sha256sum`` over the
   same files (the ceiling, also measured right before each full run: ``pct_of_sha256sum``),
   with peak memory per run.
2. Local, scan-sized: the same with ``--scan-docs`` documents of ``--scan-size`` bytes (a
   300 dpi A4 scan is a few hundred KB), where per-object costs weigh less than bytes.
3. S3 protocol (moto server on 127.0.0.1): ``--s3-docs`` documents, the same modes.
4. Metadata-only scale: ``--scale-docs`` synthetic records whose objects are tiny files written
   straight into the local folder (no sidecar).

``all`` runs the four; ``local`` and ``scale`` run one set. Every measured run happens in a
fresh subprocess (``measure``), so its peak memory is that run's alone; each run also reports
its CPU time (user + sys, all threads) and the machine's load average when it started (the
build machine is shared). Results are printed as JSON and written to ``<out>/results.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from archive.integrity import CheckOptions, Mode, run_checks
from archive.naming import archive_key, original_key
from archive.storage import ObjectStore, make_store
from config.taxonomy import load_taxonomy
from ingest.pdfout import pdf_from_objects
from models.customer import Customer
from models.db import make_engine, upgrade_to_head
from models.document import Document
from models.runs import ObjectVerification

DOC_TYPES = ("business_license", "bank_permit", "id_card", "customer_form")
SUBMITTED = date(2024, 5, 6)
TEST_REGION = "us-east-1"


def make_pdf(text: str, pad_bytes: int, rng: random.Random) -> bytes:
    """A one-page PDF with a text layer and an unreferenced padding stream of ``pad_bytes``."""
    content = f"BT /F1 12 Tf 20 50 Td ({text}) Tj ET".encode()
    pad = rng.randbytes(pad_bytes)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Resources << /Font "
        b"<< /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(pad) + pad + b"\nendstream",
    ]
    return pdf_from_objects(objs)


def _customers(engine: sa.Engine, count: int) -> list[tuple[int, str]]:
    now = datetime.now(UTC)
    rows = [{"code": f"CUS209901{i:06d}", "name": f"基准客户{i:06d}有限公司",
             "customer_type": "enterprise", "status": "prospect", "created_by": "bench",
             "updated_by": "bench", "created_at": now, "updated_at": now} for i in range(count)]
    table = Customer.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(sa.insert(table), rows[i:i + 5000])
        result = conn.execute(sa.select(table.c.id, table.c.name).order_by(table.c.id))
        return [(int(r[0]), str(r[1])) for r in result]


def _keys(name: str, doc_type: str) -> tuple[str, str]:
    taxonomy = load_taxonomy()
    names: dict[str, Any] = {
        "templates": taxonomy.templates, "customer_type_label": "企业客户",
        "customer_name": name, "document_type_label": taxonomy.document_type(doc_type).label,
        "submitted": SUBMITTED}
    return archive_key(**names), original_key(**names, original_ext=".jpg")


def _doc_row(cid: int, doc_type: str, keys: tuple[str, str], pdf: tuple[str, int],
             orig: tuple[str, int]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"customer_id": cid, "document_type": doc_type, "status": "archived",
            "submitted_date": SUBMITTED, "original_filename": "scan.jpg",
            "original_key": keys[1], "original_sha256": orig[0], "original_size": orig[1],
            "pdf_key": keys[0], "pdf_sha256": pdf[0], "pdf_size": pdf[1], "page_count": 1,
            "ocr_text": "bench", "fields": {}, "review_reasons": [], "created_at": now,
            "updated_at": now}


def _insert_docs(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    table = Document.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(sa.insert(table), rows[i:i + 5000])


#: Columns that replace a generated row's (``extra(i, (customer id, name), document type)``).
RowExtra = Callable[[int, tuple[int, str], str], dict[str, Any]]


def generate_archive(*, db_url: str, store: ObjectStore, docs: int, size: int, seed: int = 1,
                     threads: int = 8, extra: RowExtra | None = None) -> dict[str, Any]:
    """Put ``docs`` documents (PDF + original of about ``size`` bytes each) and their rows:
    four per customer (one of each type), all archived unless ``extra`` says otherwise."""
    engine = make_engine(db_url)
    upgrade_to_head(engine)
    store.ensure_ready()
    customers = _customers(engine, (docs + len(DOC_TYPES) - 1) // len(DOC_TYPES))
    plan = [(i, customers[i // 4], DOC_TYPES[i % 4]) for i in range(docs)]

    def put(item: tuple[int, tuple[int, str], str]) -> dict[str, Any]:
        i, (cid, name), doc_type = item
        rng = random.Random(f"{seed}-{cid}-{doc_type}")
        pdf = make_pdf(f"{cid} {doc_type}", size, rng)
        orig = rng.randbytes(size)
        keys = _keys(name, doc_type)
        infos = []
        for key, data in ((keys[0], pdf), (keys[1], orig)):
            digest = hashlib.sha256(data).hexdigest()
            store.put(key, io.BytesIO(data), sha256=digest)
            infos.append((digest, len(data)))
        row = _doc_row(cid, doc_type, keys, infos[0], infos[1])
        return {**row, **extra(i, (cid, name), doc_type)} if extra else row

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        rows = list(pool.map(put, plan))
    _insert_docs(engine, rows)
    engine.dispose()
    return {"documents": docs, "objects": 2 * docs, "seconds": time.perf_counter() - started}


def generate_scale(*, db_url: str, root: Path, docs: int) -> dict[str, Any]:
    """Synthetic records whose objects are tiny files written straight into the local folder."""
    engine = make_engine(db_url)
    upgrade_to_head(engine)
    started = time.perf_counter()
    customers = _customers(engine, (docs + 3) // 4)
    rows = []
    for i in range(docs):
        (cid, name), doc_type = customers[i // 4], DOC_TYPES[i % 4]
        keys = _keys(name, doc_type)
        infos = []
        for key in keys:
            data = f"{key}\n".encode()
            path = root.joinpath(*key.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            infos.append((hashlib.sha256(data).hexdigest(), len(data)))
        rows.append(_doc_row(cid, doc_type, keys, infos[0], infos[1]))
    _insert_docs(engine, rows)
    engine.dispose()
    return {"documents": docs, "objects": 2 * docs, "seconds": time.perf_counter() - started}


def backdate_fraction(db_url: str, fraction: float, *, days: int) -> int:
    """Make ``fraction`` of the verification stamps older than ``days`` (due for a re-scrub)."""
    engine = make_engine(db_url)
    table = ObjectVerification.__table__  # type: ignore[attr-defined]
    old = datetime.now(UTC) - timedelta(days=days + 1)
    with engine.begin() as conn:
        keys = [r[0] for r in conn.execute(sa.select(table.c.key).order_by(table.c.key))]
        chosen = keys[:: max(1, round(1 / fraction))]
        for i in range(0, len(chosen), 500):
            conn.execute(sa.update(table).where(table.c.key.in_(chosen[i:i + 500]))
                         .values(verified_at=old))
    engine.dispose()
    return len(chosen)


# --- one measured run (in its own process) ----------------------------------------------------


def measure(*, db_url: str, storage_url: str, endpoint: str | None, mode: str,
            workers: int, deep: bool = False) -> dict[str, Any]:
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    engine = make_engine(db_url)
    store = make_store(storage_url=storage_url, s3_endpoint_url=endpoint, s3_region=TEST_REGION)
    options = CheckOptions(mode=Mode(mode), workers=workers, deep=deep)
    load = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    report = run_checks(engine=engine, store=store, taxonomy=load_taxonomy(), options=options)
    seconds = time.perf_counter() - started
    stats = dict(report.stats)
    return {
        "mode": mode, "seconds": round(seconds, 2), "workers": workers,
        "cpu_seconds": round(time.process_time() - cpu_started, 2), "load_avg_1m": load,
        "documents": stats.get("documents", 0), "objects": stats.get("objects", 0),
        "hashed_objects": stats.get("hashed_objects", 0),
        "opened_pdfs": stats.get("opened_pdfs", 0),
        "hashed_mb": round(stats.get("hashed_bytes", 0) / 1e6, 1),
        "objects_per_s": round(stats.get("objects", 0) / seconds, 1),
        "hashed_mb_per_s": round(stats.get("hashed_bytes", 0) / 1e6 / seconds, 1),
        "findings": len(report.findings),
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB).

    ``VmHWM`` belongs to this process's own address space; ``ru_maxrss`` survives ``exec`` on
    Linux, so a run spawned by a bench process that had just generated 100,000 rows reported
    that parent's peak (426 MB) instead of its own (112 MB).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure_in_subprocess(**kw: Any) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.integrity", "measure"]
    for name, value in kw.items():
        if value is not None:
            args += [f"--{name.replace('_', '-')}", str(value)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def sha256sum_ceiling(root: Path, *, parallel: int) -> dict[str, Any]:
    """``sha256sum`` over the archive's files (sidecars excluded), ``parallel`` processes."""
    files = [p for p in root.rglob("*") if p.is_file() and ".dossier-meta" not in p.parts]
    total = sum(p.stat().st_size for p in files)
    listing = b"\0".join(str(p).encode() for p in files)
    cmd = ["xargs", "-0", "-n", "256", "-P", str(parallel), "sha256sum"]
    started = time.perf_counter()
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, input=listing, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"tool": f"sha256sum x{parallel}", "objects": len(files), "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2), "load_avg_1m": load,
            "objects_per_s": round(len(files) / seconds, 1),
            "hashed_mb_per_s": round(total / 1e6 / seconds, 1)}


# --- the whole benchmark ----------------------------------------------------------------------


#: Full-mode runs and what each shows.
FULL_RUNS = ("full (first run: pypdf opens every PDF)", "full (later run: PDFs proven)")


def _against(run: dict[str, Any], ceiling: dict[str, Any]) -> dict[str, Any]:
    """``run`` with the ``sha256sum`` run measured just before it and its share of that."""
    pct = 100 * run["hashed_mb_per_s"] / ceiling["hashed_mb_per_s"]
    return {**run, "sha256sum": ceiling, "pct_of_sha256sum": round(pct, 1)}


def _modes(db_url: str, storage_url: str, endpoint: str | None, workers: int,
           ceiling: Callable[[], dict[str, Any]] | None = None) -> list[dict]:
    runs = []
    for label in FULL_RUNS:
        before = ceiling() if ceiling else None
        run = measure_in_subprocess(db_url=db_url, storage_url=storage_url, endpoint=endpoint,
                                     mode="full", workers=workers)
        run["mode"] = label
        runs.append(_against(run, before) if before else run)
    for mode in ("incremental", "metadata"):
        runs.append(measure_in_subprocess(db_url=db_url, storage_url=storage_url,
                                           endpoint=endpoint, mode=mode, workers=workers))
    due = backdate_fraction(db_url, 1 / 7, days=7)
    run = measure_in_subprocess(db_url=db_url, storage_url=storage_url, endpoint=endpoint,
                                 mode="incremental", workers=workers)
    run["mode"] = f"incremental (1/7 due: {due})"
    runs.append(run)
    return runs


def bench_local(out: Path, *, docs: int, size: int, workers: int, name: str = "local") -> (
        dict[str, Any]):
    root = out / f"{name}-objects"
    db_url = f"sqlite:///{out / f'{name}.db'}"
    gen = generate_archive(db_url=db_url, store=make_store(storage_url=root.as_uri()), docs=docs,
                           size=size)
    sha256sum_ceiling(root, parallel=1)  # warm the page cache once, for every contender alike
    ceilings = [sha256sum_ceiling(root, parallel=1), sha256sum_ceiling(root, parallel=2)]
    runs = _modes(db_url, root.as_uri(), None, workers,
                  ceiling=lambda: sha256sum_ceiling(root, parallel=1))
    return {"generate": gen, "ceiling": ceilings, "runs": runs}


def bench_s3(out: Path, *, docs: int, size: int, workers: int) -> dict[str, Any]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                        "AWS_DEFAULT_REGION": TEST_REGION}.items():
        os.environ[name] = value
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        storage_url = "s3://dossier-bench/archive-root"
        store = make_store(storage_url=storage_url, s3_endpoint_url=endpoint,
                           s3_region=TEST_REGION)
        db_url = f"sqlite:///{out / 's3.db'}"
        gen = generate_archive(db_url=db_url, store=store, docs=docs, size=size)
        runs = _modes(db_url, storage_url, endpoint, workers)
    finally:
        server.stop()
    return {"generate": gen, "runs": runs}


def bench_scale(out: Path, *, docs: int, workers: int) -> dict[str, Any]:
    root = out / "scale-objects"
    db_url = f"sqlite:///{out / 'scale.db'}"
    gen = generate_scale(db_url=db_url, root=root, docs=docs)
    run = measure_in_subprocess(db_url=db_url, storage_url=root.as_uri(), endpoint=None,
                                 mode="metadata", workers=workers)
    return {"generate": gen, "runs": [run]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.integrity")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("all")
    a.add_argument("--out", type=Path, required=True)
    a.add_argument("--local-docs", type=int, default=5000)
    a.add_argument("--s3-docs", type=int, default=1000)
    a.add_argument("--scale-docs", type=int, default=100_000)
    a.add_argument("--size", type=int, default=48 * 1024)
    a.add_argument("--scan-docs", type=int, default=5000)
    a.add_argument("--scan-size", type=int, default=256 * 1024)
    a.add_argument("--workers", type=int, default=4)
    loc = sub.add_parser("local", help="one local set (generated, then measured)")
    loc.add_argument("--out", type=Path, required=True)
    loc.add_argument("--docs", type=int, default=5000)
    loc.add_argument("--size", type=int, default=48 * 1024)
    loc.add_argument("--workers", type=int, default=4)
    sc = sub.add_parser("scale", help="metadata-only run over synthetic records")
    sc.add_argument("--out", type=Path, required=True)
    sc.add_argument("--docs", type=int, default=100_000)
    sc.add_argument("--workers", type=int, default=4)
    m = sub.add_parser("measure")
    m.add_argument("--db-url", required=True)
    m.add_argument("--storage-url", required=True)
    m.add_argument("--endpoint")
    m.add_argument("--mode", required=True)
    m.add_argument("--workers", type=int, default=4)
    m.add_argument("--deep", action="store_true", help="open every PDF with pypdf")
    args = parser.parse_args(argv)
    if args.command == "measure":
        result = measure(db_url=args.db_url, storage_url=args.storage_url,
                         endpoint=args.endpoint, mode=args.mode, workers=args.workers,
                         deep=args.deep)
        sys.stdout.write(json.dumps(result) + "\n")
        return
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    results: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="minutes"),
        "cpus": os.cpu_count(),
        "load_avg_at_start": os.getloadavg(),
    }
    if args.command == "local":
        results["local"] = bench_local(out, docs=args.docs, size=args.size, workers=args.workers)
    elif args.command == "scale":
        results["scale"] = bench_scale(out, docs=args.docs, workers=args.workers)
    else:
        results.update({
            "local": bench_local(out, docs=args.local_docs, size=args.size,
                                 workers=args.workers),
            "local_scan_sized": bench_local(out, docs=args.scan_docs, size=args.scan_size,
                                            workers=args.workers, name="scan"),
            "s3": bench_s3(out, docs=args.s3_docs, size=args.size, workers=args.workers),
            "scale": bench_scale(out, docs=args.scale_docs, workers=args.workers),
        })
    results["load_avg_at_end"] = os.getloadavg()
    text = json.dumps(results, ensure_ascii=False, indent=2)
    (out / "results.json").write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
