"""The flag table (:mod:`bench.flags`) on the bench set and on held-out seeds, from kept OCR.

``python -m bench.flagsets [--sets bench,13,29] [--cache DIR] [--below X] [--no-second]
[--cached-only] [--reverse]``

Sets: ``bench`` is the accuracy bench's standard and extra sets (127 documents: the set the
doubt rules were written looking at); a number is a held-out set, the standard conditions
(every type in ``KINDS`` clean and under each of ``DEGRADATIONS``: 50 documents) generated
with that seed. Each document is generated, written as a PNG and run once through
``normalize_file`` with the cascade engine; its page results (text, scored words, layout, code
re-reads, the other engine's second readings) are pickled in ``--cache``. Later runs load them
and redo only what the doubt rules change: extraction, re-reads applied and assessment
(``ingest.pipeline._extract``), then the flag table. OCR does not depend on those rules, so
this gives what ``python -m bench.accuracy`` would, without the OCR.

The cache is made with every key name and date read again by the other engine
(``ingest.rereads.SECOND_READ_BELOW`` raised above 1), so ``--below X`` can show the effect of
reading again only values the text engine scored below X (readings above it are dropped), and
``--no-second`` the rules without any second reading; by default readings are kept as
production makes them (values scored below ``SECOND_READ_BELOW``). The costs printed: OCR
seconds per page (page preparation, OCR, re-reads), and of it the second readings' seconds
per page, measured (every value) and estimated for ``--below`` (the pages that would still
be read again, at their measured seconds).

Run with ``PYTHONPATH`` set to another checkout (``PYTHONPATH=/other python
bench/flagsets.py --cache DIR``) to score the same kept OCR with that checkout's rules: the
"before" of a change.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import flags as flag_table
from bench.accuracy import DEGRADATIONS, KINDS, TODAY, Case, cases, markdown_table
from bench.samples import generate, write_sample
from config import load_settings
from ingest import pipeline

ENGINE = "cascade"
BENCH = "bench"


@dataclass
class Row:
    """One document's flags, in the shape :func:`bench.flags.flag_rows` groups."""

    engine: str  # the set's name (the tables group by it)
    kind: str
    flags: dict[str, list[bool]]
    doubt_free: bool
    notes: Counter = field(default_factory=Counter)  # (reason, right) of agreement reasons


def set_cases(name: str) -> list[Case]:
    """The documents of one set (``bench`` or a seed)."""
    if name == BENCH:
        return cases(case_set="standard") + cases(case_set="extra")
    seed = int(name)
    return [Case(k, seed, d) for d in DEGRADATIONS for k in KINDS]


def _params(work: Path) -> pipeline.PipelineParams:
    base = pipeline.PipelineParams.from_settings(load_settings(home=work / "home"))
    return replace(base, today=TODAY, ocr_engine=ENGINE)


def _path(cache: Path, case: Case) -> Path:
    return cache / f"{case.kind}-{case.seed}-{case.label}.pickle"


def _cached(case: Case, *, cache: Path, work: Path) -> dict[str, Any]:
    """One document's kept OCR (made and written on first use)."""
    path = _path(cache, case)
    if path.exists():
        return pickle.loads(path.read_bytes())
    try:
        from ingest import rereads  # noqa: PLC0415 - a checkout without second readings

        rereads.SECOND_READ_BELOW = 2.0  # every key name and date, for --below
    except (ImportError, AttributeError):
        pass
    sample = generate(case.kind, seed=case.seed, degradation=case.degradations)
    png = write_sample(sample, work / "in" / path.with_suffix(".png").name)
    out = work / "out" / png.stem
    normalized = pipeline.normalize_file(png, params=_params(work), work_dir=out)
    kept = {
        "truth": sample.truth["fields"],
        "parts": [(p.document_type, p.pages, p.side) for p in normalized.parts],
        "pages": normalized.page_results,
        "ocr_seconds": normalized.ocr_seconds,
        "page_count": normalized.page_count,
    }
    part = path.with_suffix(f".{os.getpid()}.part")
    part.write_bytes(pickle.dumps(kept))
    part.replace(path)  # whole or not at all: another process may share the set
    return kept


def _pages(kept: dict[str, Any], indexes: tuple[int, ...], below: float | None) -> list:
    pages = [kept["pages"][i] for i in indexes]
    if below is None:
        return pages
    return [
        replace(p, readings=tuple(r for r in getattr(p, "readings", ()) if r[1] < below))
        for p in pages
    ]


def score(
    name: str, case: Case, kept: dict[str, Any], *, params: pipeline.PipelineParams,
    below: float | None,
) -> Row:
    """Re-extract one kept document with this checkout's rules and compare with the truth."""
    fields: dict[str, dict] = {}
    parts = kept["parts"]
    if parts:
        doc_type, indexes, side = max(parts, key=lambda p: len(p[1]))
        pages = _pages(kept, indexes, below)
        found = pipeline._extract(doc_type, pages, side=side, params=params)  # noqa: SLF001
        fields = {k: pipeline._field_dict(v) for k, v in found.items()}  # noqa: SLF001
    flags = flag_table.field_flags(case.kind, kept["truth"], fields)
    notes: Counter = Counter()
    for key, (right, _) in flags.items():
        for reason in fields.get(key, {}).get("reasons", ()):
            if reason.startswith(("engines_", "trimmed_")):
                notes[(reason, "right" if right else "wrong")] += 1
    return Row(name, case.kind, flags, flag_table.doubt_free(fields), notes)


def costs(name: str, kept_docs: list[dict[str, Any]], below: float | None) -> dict[str, Any]:
    """OCR seconds per page, and of them the second readings' (measured; for ``below``,
    estimated from the pages that would still be read)."""
    pages = [p for k in kept_docs for p in k["pages"] if p.source == "ocr"]
    n = max(1, len(pages))
    read = [p for p in pages if getattr(p, "readings", ())]
    kept_read = [p for p in read if below is None or any(r[1] < below for r in p.readings)]
    return {
        "set": name,
        "pages": len(pages),
        "ocr_s_per_page": f"{sum(k['ocr_seconds'] for k in kept_docs) / n:.2f}",
        "pages_read_again_all": len(read),
        "second_s_per_page_all": f"{sum(p.second_seconds for p in read) / n:.3f}",
        "pages_read_again": len(kept_read),
        "second_s_per_page": f"{sum(p.second_seconds for p in kept_read) / n:.3f}",
    }


def _production_below() -> float | None:
    try:
        from ingest.rereads import SECOND_READ_BELOW  # noqa: PLC0415 - absent before the change
    except ImportError:
        return None
    return SECOND_READ_BELOW


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.flagsets", description=__doc__)
    parser.add_argument("--sets", default=f"{BENCH},13,29")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "flagsets")
    parser.add_argument("--below", type=float, default=_production_below(),
                        help="keep only second readings of values scored below this "
                             "(default: ingest.rereads.SECOND_READ_BELOW)")
    parser.add_argument("--no-second", action="store_true", help="drop every second reading")
    parser.add_argument("--cached-only", action="store_true",
                        help="score only documents already kept (no OCR)")
    parser.add_argument("--reverse", action="store_true",
                        help="last document first (a second process sharing the OCR of a set)")
    args = parser.parse_args(argv)
    below = 0.0 if args.no_second else args.below
    args.cache.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    cost_rows = []
    with tempfile.TemporaryDirectory(prefix="dossier-flagsets-") as tmp:
        params = _params(Path(tmp))
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            selected = set_cases(name)
            kept_docs = []
            if args.cached_only:
                selected = [c for c in selected if _path(args.cache, c).exists()]
            if args.reverse:
                selected.reverse()
            for n, case in enumerate(selected, start=1):
                kept = _cached(case, cache=args.cache, work=Path(tmp))
                kept_docs.append(kept)
                rows.append(score(name, case, kept, params=params, below=below))
                sys.stderr.write(f"[{name} {n}/{len(selected)}] {case.kind} {case.label}\n")
            cost_rows.append(costs(name, kept_docs, below))
    notes: Counter = Counter()
    for r in rows:
        notes.update({(r.engine, *k): v for k, v in r.notes.items()})
    note_rows = [{"set": s, "reason": reason, "value": right, "fields": count}
                 for (s, reason, right), count in sorted(notes.items())]
    print("### Flags per set\n\n" + markdown_table(flag_table.flag_rows(rows)))
    print("\n### Per document type\n\n" + markdown_table(flag_table.flag_rows(rows, by="kind")))
    print("\n### Per field\n\n" + markdown_table(flag_table.per_field_rows(rows)))
    print("\n### Cuts and engine agreement on compared fields\n\n" + markdown_table(note_rows))
    print("\n### Cost of second readings\n\n" + markdown_table(cost_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
