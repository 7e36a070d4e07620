"""Benchmark: dossier beside plain tesseract and OCRmyPDF on the same pages (issue 14, item 7).
Run by hand, not in tests::

    .venv/bin/python -m bench.sidebyside [--pages 50] [--dpi 300] [--latency-runs 3]
        [--engine ENGINE] [--ocrmypdf /work/ocrmypdf-venv/bin/ocrmypdf] [--out DIR]

Every command is timed as a whole process (start-up included), on the same ``--pages``
single-page scans (:func:`bench.ingest.write_pages`: licences, ID copies, permits, forms and
contracts with noise, JPEG and PNG), with ``OMP_THREAD_LIMIT=1`` for every contender:

- **dossier**: ``dossier ingest --now --json --no-prefect`` on a fresh home (SQLite, local
  store, ``dossier init`` not timed) holding every page in its intake, with
  ``DOSSIER_WORKERS=1`` and ``=2`` (``--engine`` sets ``DOSSIER_OCR_ENGINE``; default: the
  product's default engine);
- **tesseract**: ``tesseract IMAGE OUT -l chi_sim+eng --psm 4 txt pdf`` per page, one process
  at a time and two at a time (bench/ingest.py's baseline);
- **OCRmyPDF**: ``ocrmypdf -l chi_sim --rotate-pages --deskew --jobs 1 IMAGE OUT.pdf`` per
  page, one and two at a time, from its own virtual environment (installed for the comparison
  only: ``python3 -m venv /work/ocrmypdf-venv && /work/ocrmypdf-venv/bin/pip install
  ocrmypdf``; it needs ghostscript, ``gs``).

Pages per minute is pages over the batch's wall time. Single-file latency: one page, the
median of ``--latency-runs`` whole-process runs per contender (dossier: a fresh home each run,
so the page is never a duplicate). "One Prefect worker vs two" is not measured here: one pass
over a local intake claims every waiting file at once, so a second worker finds nothing; it
needs the S3 intake, which pulls in batches (left; docs/benchmarks.md).

Prints a Markdown table and writes ``OUT/sidebyside.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from bench.ingest import TESSERACT_ARGS, write_pages

OCRMYPDF = "/work/ocrmypdf-venv/bin/ocrmypdf"
OCRMYPDF_ARGS = ("-l", "chi_sim", "--rotate-pages", "--deskew", "--jobs", "1")
DOSSIER = str(Path(sys.executable).with_name("dossier"))
TIMEOUT = 1800


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "PREFECT_"))}
    return {**env, "OMP_THREAD_LIMIT": "1", **extra}


def timed(cmd: list[str], *, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run one command to its end; its wall seconds and its standard output."""
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env or _env(), capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


# ---- the contenders: one page as a whole process ---------------------------------------------


def tesseract_page(image: Path, out: Path) -> float:
    cmd = ["tesseract", str(image), str(out / image.stem), *TESSERACT_ARGS, "txt", "pdf"]
    return timed(cmd)[0]


def ocrmypdf_page(image: Path, out: Path, *, ocrmypdf: str = OCRMYPDF) -> float:
    return timed([ocrmypdf, *OCRMYPDF_ARGS, str(image), str(out / f"{image.stem}.pdf")])[0]


def per_page_batch(images: list[Path], out: Path, *, processes: int,
                   one: Callable[[Path, Path], float]) -> dict[str, Any]:  # fmt: skip
    """``one`` over every page, ``processes`` at a time: wall, pages per minute, median s."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=processes) as pool:
        seconds = list(pool.map(lambda image: one(image, out), images))
    wall = time.perf_counter() - started
    return {"processes": processes, "pages": len(images), "wall_seconds": round(wall, 1),
            "pages_per_minute": round(60 * len(images) / wall, 1),
            "median_seconds_per_page": round(statistics.median(seconds), 2)}  # fmt: skip


def dossier_home(home: Path, images: list[Path], *, engine: str | None) -> dict[str, str]:
    """A fresh initialized home with ``images`` in its intake; the environment to use it."""
    shutil.rmtree(home, ignore_errors=True)
    env = _env(DOSSIER_HOME=str(home), **({"DOSSIER_OCR_ENGINE": engine} if engine else {}))
    timed([DOSSIER, "init", "--json"], env=env)
    for image in images:
        shutil.copyfile(image, home / "intake" / image.name)
    return env


def dossier_batch(images: list[Path], home: Path, *, workers: int,
                  engine: str | None) -> dict[str, Any]:  # fmt: skip
    """``dossier ingest --now`` over every page with ``workers`` OCR workers, as one process."""
    env = dossier_home(home, images, engine=engine) | {"DOSSIER_WORKERS": str(workers)}
    wall, stdout = timed([DOSSIER, "ingest", "--now", "--json", "--no-prefect"], env=env)
    report = json.loads(stdout)
    pages = sum(int(f.get("pages") or 0) for f in report["files"]) or len(images)
    return {"workers": workers, "pages": pages, "wall_seconds": round(wall, 1),
            "pages_per_minute": round(60 * pages / wall, 1),
            "counts": report["counts"]}  # fmt: skip


def dossier_page(image: Path, home: Path, *, engine: str | None) -> float:
    """One page from ``dossier ingest --now`` to filed, a fresh home (init not timed)."""
    env = dossier_home(home, [image], engine=engine) | {"DOSSIER_WORKERS": "1"}
    wall, stdout = timed([DOSSIER, "ingest", "--now", "--json", "--no-prefect"], env=env)
    counts = json.loads(stdout)["counts"]
    assert sum(counts.values()) == 1, counts
    return wall


def latency(one: Callable[[int], float], runs: int) -> dict[str, Any]:
    seconds = [one(n) for n in range(runs)]
    return {"runs": runs, "median_seconds": round(statistics.median(seconds), 2),
            "seconds": [round(s, 2) for s in seconds]}  # fmt: skip


# ---- the whole benchmark ---------------------------------------------------------------------


def run(*, pages: int, dpi: int, engine: str | None, latency_runs: int, ocrmypdf: str,
        out: Path) -> dict[str, Any]:  # fmt: skip
    images = write_pages(out / "scans", pages=pages, dpi=dpi)
    load = [round(os.getloadavg()[0], 2)]
    ocr = partial(ocrmypdf_page, ocrmypdf=ocrmypdf)
    batches = {
        "dossier, 1 worker": dossier_batch(images, out / "home-1", workers=1, engine=engine),
        "dossier, 2 workers": dossier_batch(images, out / "home-2", workers=2, engine=engine),
        "tesseract, 1 process at a time": per_page_batch(
            images, out / "tess-1", processes=1, one=tesseract_page),
        "tesseract, 2 processes at a time": per_page_batch(
            images, out / "tess-2", processes=2, one=tesseract_page),
        "OCRmyPDF, 1 process at a time": per_page_batch(
            images, out / "ocrmypdf-1", processes=1, one=ocr),
        "OCRmyPDF, 2 processes at a time": per_page_batch(
            images, out / "ocrmypdf-2", processes=2, one=ocr),
    }  # fmt: skip
    load.append(round(os.getloadavg()[0], 2))
    first = images[0]
    latencies = {
        "dossier": latency(lambda n: dossier_page(images[n % len(images)], out / "home-latency",
                                                  engine=engine), latency_runs),
        "tesseract": latency(lambda n: tesseract_page(first, out / "tess-1"), latency_runs),
        "OCRmyPDF": latency(lambda n: ocr(first, out / "ocrmypdf-1"), latency_runs),
    }  # fmt: skip
    load.append(round(os.getloadavg()[0], 2))
    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "host": platform.node(),
            "cpus": os.cpu_count(), "pages": pages, "dpi": dpi, "engine": engine or "default",
            "load_avg_1m": load, "batches": batches, "single_file": latencies}  # fmt: skip


def report(result: dict[str, Any]) -> str:
    """The Markdown table of a run."""
    load = ", ".join(str(x) for x in result["load_avg_1m"])
    lines = [
        f"Run {result['date']} on {result['host']} ({result['cpus']} cores), "
        f"{result['pages']} pages at {result['dpi']} dpi, dossier engine {result['engine']}, "
        f"load average (1 min) at start, after the batches, at the end: {load}.",
        "",
        "| contender | pages | wall s | pages/min |",
        "|---|---|---|---|",
    ]
    for label, b in result["batches"].items():
        lines.append(f"| {label} | {b['pages']} | {b['wall_seconds']} | {b['pages_per_minute']} |")
    lines += ["", "| single file (one page, whole process) | median s | runs |", "|---|---|---|"]
    for label, lat in result["single_file"].items():
        runs = ", ".join(str(s) for s in lat["seconds"])
        lines.append(f"| {label} | {lat['median_seconds']} | {runs} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sidebyside", description=__doc__)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--latency-runs", type=int, default=3)
    parser.add_argument("--engine", default="", help="DOSSIER_OCR_ENGINE ('' = the default)")
    parser.add_argument("--ocrmypdf", default=OCRMYPDF)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not shutil.which("gs"):
        sys.exit("OCRmyPDF needs ghostscript (gs): apt-get install ghostscript")
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="dossier-bench-sidebyside-"))
    result = run(pages=args.pages, dpi=args.dpi, engine=args.engine or None,
                 latency_runs=args.latency_runs, ocrmypdf=args.ocrmypdf, out=out)  # fmt: skip
    (out / "sidebyside.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(report(result))  # noqa: T201
    print(f"scans and outputs in {out}", file=sys.stderr)  # noqa: T201


if __name__ == "__main__":
    main()
