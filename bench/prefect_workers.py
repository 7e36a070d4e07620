"""Benchmark: one Prefect worker against two on one shared S3 intake (issue 14, item 7).
Run by hand, not in tests::

    .venv/bin/python -m bench.prefect_workers [--pages 20] [--dpi 300] [--engine tesseract]
        [--variants 1,2] [--out DIR]

One Prefect server (``flows.serve.prefect_server``: ``PREFECT_API_URL`` if set, else a local
one started for the run) and the S3-protocol server (moto, 127.0.0.1) for the whole run. Per
variant (k workers): a fresh bucket holding the ``--pages`` scans of
:func:`bench.ingest.write_pages` under its intake prefix, a fresh SQLite database and local
archive shared by the workers, ``dossier deploy --pool bench-k`` (intake every 5 s), then k
``prefect worker start --pool bench-k --limit 1`` processes, each as its own "machine" (its own
dossier home: intake and work folders) with one OCR worker (``DOSSIER_WORKERS=1``): one flow
run at a time per Prefect worker. Timed from the workers' start (their start-up, the schedule
and each flow run's process start-up included) until every page is a document; pages per
minute over that. The S3 intake hands each run at most 4 x ``DOSSIER_WORKERS`` files per pull,
so two runs share the work (a local intake would be claimed whole by the first pass).

Prints a Markdown table and writes ``OUT/prefect_workers.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.ingest import write_pages
from config import load_settings
from flows.serve import prefect_server

PREFIX = "intake"
REGION = "us-east-1"
DOSSIER = str(Path(sys.executable).with_name("dossier"))
PREFECT = str(Path(sys.executable).with_name("prefect"))
AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
       "AWS_DEFAULT_REGION": REGION}  # fmt: skip


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free port of 127.0.0.1; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.update(AWS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _env(home: Path, shared: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    return {**env, **AWS, **shared, "DOSSIER_HOME": str(home),
            "PREFECT_HOME": str(home / "prefect-client"), "OMP_THREAD_LIMIT": "1"}  # fmt: skip


def _documents(database: Path) -> int:
    try:
        with sqlite3.connect(database) as conn:
            return int(conn.execute("SELECT count(*) FROM document").fetchone()[0])
    except sqlite3.Error:
        return 0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _shared(root: Path, *, bucket: str, endpoint: str, api: str, engine: str) -> dict[str, str]:
    return {
        "DOSSIER_DATABASE_URL": f"sqlite:///{root / 'shared.db'}",
        "DOSSIER_STORAGE_URL": (root / "archive").as_uri(),
        "DOSSIER_INTAKE_S3_URL": f"s3://{bucket}/{PREFIX}/",
        "DOSSIER_S3_ENDPOINT_URL": endpoint, "DOSSIER_S3_REGION": REGION,
        "DOSSIER_BACKUP_DEST": str(root / "backups"), "DOSSIER_INGEST_INTERVAL_SECONDS": "5",
        "DOSSIER_WORKERS": "1", "PREFECT_API_URL": api, "PREFECT_WORKER_QUERY_SECONDS": "2",
        **({"DOSSIER_OCR_ENGINE": engine} if engine else {}),
    }  # fmt: skip


def run_variant(workers: int, images: list[Path], root: Path, *, endpoint: str, api: str,
                engine: str, timeout: float) -> dict[str, Any]:  # fmt: skip
    """Upload the scans, deploy on a fresh pool, start ``workers`` Prefect workers and time
    them until every page is a document."""
    import boto3

    bucket, pool = f"bench-prefect-{workers}-{os.getpid()}", f"bench-{workers}-{os.getpid()}"
    shared = _shared(root, bucket=bucket, endpoint=endpoint, api=api, engine=engine)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    s3.create_bucket(Bucket=bucket)
    home = root / "machine-0"
    for cmd in (["init", "--json"], ["deploy", "--pool", pool, "--json"]):
        subprocess.run([DOSSIER, *cmd], env=_env(home, shared), check=True, capture_output=True,
                       timeout=600)  # fmt: skip
    for image in images:
        s3.upload_file(str(image), bucket, f"{PREFIX}/{image.name}")
    procs, logs = [], []
    started = time.perf_counter()
    try:
        for n in range(workers):
            log = (root / f"worker-{n}.log").open("wb")
            logs.append(log)
            procs.append(subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", pool, "--limit", "1"],
                env=_env(root / f"machine-{n}", shared), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))  # fmt: skip
        first = None
        while (done := _documents(root / "shared.db")) < len(images):
            if first is None and done:
                first = time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{done}/{len(images)} filed after {timeout:.0f} s ({root})")
            time.sleep(0.5)
        wall = time.perf_counter() - started
    finally:
        for proc in procs:
            _stop(proc)
        for log in logs:
            log.close()
    left = s3.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/").get("KeyCount", 0)
    return {"prefect_workers": workers, "pages": len(images), "wall_seconds": round(wall, 1),
            "first_document_seconds": round(first or wall, 1),
            "pages_per_minute": round(60 * len(images) / wall, 1), "left_in_s3": left}  # fmt: skip


def report(result: dict[str, Any]) -> str:
    lines = [
        f"Run {result['date']} ({result['cpus']} cores), {result['pages']} pages at "
        f"{result['dpi']} dpi, engine {result['engine']}, load average (1 min) at start and end: "
        f"{result['load_avg_1m'][0]}, {result['load_avg_1m'][1]}.",
        "",
        "| Prefect workers (one flow run each, one OCR worker) | pages | wall s | first document s "
        "| pages/min |",
        "|---|---|---|---|---|",
    ]
    for v in result["variants"]:
        lines.append(f"| {v['prefect_workers']} | {v['pages']} | {v['wall_seconds']} | "
                     f"{v['first_document_seconds']} | {v['pages_per_minute']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prefect_workers", description=__doc__)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--engine", default="tesseract", help="DOSSIER_OCR_ENGINE ('' = default)")
    parser.add_argument("--variants", default="1,2", help="numbers of Prefect workers")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="dossier-bench-prefect-"))
    images = write_pages(out / "scans", pages=args.pages, dpi=args.dpi)
    load = [round(os.getloadavg()[0], 2)]
    variants = []
    with s3_server() as endpoint, prefect_server(load_settings(home=out / "server")) as api:
        for k in (int(v) for v in args.variants.split(",")):
            variants.append(run_variant(k, images, out / f"variant-{k}", endpoint=endpoint,
                                        api=api, engine=args.engine,
                                        timeout=args.timeout))  # fmt: skip
    load.append(round(os.getloadavg()[0], 2))
    result = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cpus": os.cpu_count(),
              "pages": args.pages, "dpi": args.dpi, "engine": args.engine or "default",
              "load_avg_1m": load, "variants": variants}  # fmt: skip
    (out / "prefect_workers.json").write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))  # noqa: T201
    print(f"scans, homes and worker logs in {out}", file=sys.stderr)  # noqa: T201


if __name__ == "__main__":
    main()
