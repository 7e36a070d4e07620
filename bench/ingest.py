"""Ingestion benchmark: the whole path (claim, normalize in isolated workers, file, commit)
against tesseract's own time on the same pages.

``python -m bench.ingest [--pages 50] [--dpi 300] [--engine tesseract] [--out DIR]``

1. Generates ``--pages`` single-page scans (mixed kinds, moderate noise, JPEG and PNG).
2. Baseline: the ``tesseract`` CLI over the same files, one thread per process
   (``OMP_THREAD_LIMIT=1``), ``chi_sim+eng --psm 4`` with ``txt`` and ``pdf`` outputs (what the
   pipeline asks of it), first one process at a time, then two processes at a time.
3. The pipeline: one ``run_pass`` in a fresh process per worker count (1, then 2), on SQLite and
   a local store, review policy ``all``; reports wall time, pages per minute, median seconds
   per page (each file's own processing time), outcomes, and peak memory: the run process, its
   waited-for children (``RUSAGE_CHILDREN``) and the highest ``VmHWM`` seen on any descendant
   (the isolated workers are grandchildren, via the forkserver, so they are sampled from /proc).

Prints a JSON summary (also written to ``OUT/summary.json``). Not a test: run it by hand on a
quiet machine; figures from a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.samples import generate, write_sample

KINDS = ("business_license", "id_card", "bank_permit", "customer_form", "contract")
TESSERACT_ARGS = ("-l", "chi_sim+eng", "--psm", "4")


# ---- the sample set ------------------------------------------------------------------------


def write_pages(out: Path, *, pages: int, dpi: int) -> list[Path]:
    """``pages`` single-page scans, kinds in rotation, moderate noise, JPEG and PNG."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for n in range(pages):
        kind = KINDS[n % len(KINDS)]
        sample = generate(kind, seed=1000 + n, degradation="noise", dpi=dpi)
        fmt = "jpeg" if n % 2 else "png"
        written.append(write_sample(sample, out / f"{n:03d}-{kind}.{fmt}", fmt))
    return written


# ---- baseline: tesseract alone -------------------------------------------------------------


def tesseract_once(image: Path, out_base: Path) -> float:
    """Run the tesseract CLI on one image (txt + pdf); returns its wall seconds."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    started = time.perf_counter()
    subprocess.run(
        ["tesseract", str(image), str(out_base), *TESSERACT_ARGS, "txt", "pdf"],
        check=True,
        capture_output=True,
        env=env,
        timeout=600,
    )
    return time.perf_counter() - started


def tesseract_baseline(images: list[Path], *, processes: int, scratch: Path) -> dict[str, Any]:
    """Tesseract over every image with ``processes`` at a time."""
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=processes) as pool:
        seconds = list(
            pool.map(lambda p: tesseract_once(p, scratch / p.stem), images)  # noqa: B023
        )
    wall = time.perf_counter() - started
    return {
        "processes": processes,
        "wall_seconds": round(wall, 1),
        "sum_seconds": round(sum(seconds), 1),
        "median_seconds_per_page": round(statistics.median(seconds), 2),
        "pages_per_minute": round(60 * len(images) / wall, 1),
    }


# ---- the pipeline, one pass in a fresh process ---------------------------------------------


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class PeakSampler:
    """Samples the highest VmHWM (peak RSS) of any descendant of this process."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        for pid in _descendants(os.getpid()):
            self.peak_kib = max(self.peak_kib, _vm_hwm_kib(pid))


def run_pipeline_pass(config: dict[str, Any]) -> dict[str, Any]:
    """Child side: one pass over the intake with ``config["workers"]`` isolated workers."""
    from app.intake_pass import IngestServices, run_pass
    from archive.storage import LocalObjectStore
    from config import load_settings
    from ingest.isolation import IsolatedPool
    from models.db import make_engine, upgrade_to_head

    home = Path(config["home"])
    overrides: dict[str, Any] = {"home": home, "workers": config["workers"]}
    overrides.update(settle_seconds=0.0, target_dpi=config["dpi"])
    if config.get("engine"):
        overrides["ocr_engine"] = config["engine"]
    settings = load_settings(**overrides)
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    upgrade_to_head(engine)
    store = LocalObjectStore(home / "objects")
    store.ensure_ready()
    with (
        PeakSampler() as sampler,
        IsolatedPool(
            settings.workers,
            timeout_seconds=settings.file_timeout_seconds,
            memory_limit_mb=settings.memory_limit_mb,
        ) as pool,
    ):
        started = time.perf_counter()
        report = run_pass(
            IngestServices(settings=settings, engine=engine, store=store, pool=pool), settle=False
        )
        wall = time.perf_counter() - started
        sampler.sample()
    pages = sum(o.pages for o in report.outcomes)
    per_page = [o.seconds / o.pages for o in report.outcomes if o.pages]
    return {
        "workers": config["workers"],
        "ocr_engine": getattr(settings, "ocr_engine", "tesseract"),
        "wall_seconds": round(wall, 1),
        "pages": pages,
        "pages_per_minute": round(60 * pages / wall, 1),
        "median_seconds_per_page": round(statistics.median(per_page), 2) if per_page else None,
        "counts": report.counts,
        "peak_rss_mb_run_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "peak_rss_mb_any_worker": sampler.peak_kib // 1024,
    }


def pipeline_pass(
    images: list[Path], *, workers: int, dpi: int, engine: str | None, scratch: Path
) -> dict[str, Any]:
    """Copy the scans into a fresh intake and run one pass in a fresh process."""
    home = scratch / f"home-{workers}"
    shutil.rmtree(home, ignore_errors=True)
    (home / "intake").mkdir(parents=True)
    for image in images:
        shutil.copyfile(image, home / "intake" / image.name)
    config = {"home": str(home), "workers": workers, "dpi": dpi, "engine": engine}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env["OMP_THREAD_LIMIT"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--child", json.dumps(config)],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pipeline pass failed:\n{result.stderr[-4000:]}")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    summary["peak_rss_mb_rusage_children"] = children  # max over every waited-for child so far
    return summary


# ---- the whole benchmark -------------------------------------------------------------------


def run_benchmark(*, pages: int, dpi: int, engine: str | None, out: Path) -> dict[str, Any]:
    """Generate, run the baseline and the pipeline, and summarize."""
    images = write_pages(out / "scans", pages=pages, dpi=dpi)
    tess1 = tesseract_baseline(images, processes=1, scratch=out / "tess1")
    tess2 = tesseract_baseline(images, processes=2, scratch=out / "tess2")
    pipe1 = pipeline_pass(images, workers=1, dpi=dpi, engine=engine, scratch=out)
    pipe2 = pipeline_pass(images, workers=2, dpi=dpi, engine=engine, scratch=out)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "pages": pages,
        "dpi": dpi,
        "tesseract": {"1": tess1, "2": tess2},
        "pipeline": {"1": pipe1, "2": pipe2},
        "pipeline_over_tesseract_1_worker": round(
            pipe1["wall_seconds"] / tess1["wall_seconds"] - 1, 3
        ),
        "share_outside_tesseract_1_worker": round(
            1 - tess1["wall_seconds"] / pipe1["wall_seconds"], 3
        ),
        "pipeline_over_tesseract_2_workers": round(
            pipe2["wall_seconds"] / tess2["wall_seconds"] - 1, 3
        ),
        "speedup_2_workers": round(pipe1["wall_seconds"] / pipe2["wall_seconds"], 2),
        "tesseract_speedup_2_processes": round(tess1["wall_seconds"] / tess2["wall_seconds"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``python -m bench.ingest``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument(
        "--engine", default="tesseract", help="ocr_engine setting for the pipeline ('' = default)"
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sys.stdout.write(json.dumps(run_pipeline_pass(json.loads(args.child))) + "\n")
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="dossier-bench-ingest-"))
    summary = run_benchmark(pages=args.pages, dpi=args.dpi, engine=args.engine or None, out=out)
    text = json.dumps(summary, ensure_ascii=False, indent=2)
    (out / "summary.json").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"scans and outputs in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
