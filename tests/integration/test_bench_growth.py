"""The growth benchmark (bench/growth.py) at a small size, on SQLite and PostgreSQL: it seeds
documents with real objects, times every page and list, runs a full and a metadata-only
integrity check (clean: the generated archive has nothing to report) and writes its table.
The timing itself is not asserted (that is the hand-run benchmark's job, docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

from bench import growth


def test_the_growth_bench_runs_at_a_small_size(db_url: str, tmp_path: Path) -> None:
    result = growth.run_size(db_url, tmp_path, documents=40, size=2048, pending_share=0.25,
                             runs=2, check_workers=2)  # fmt: skip
    assert (result["documents"], result["customers"], result["pending"]) == (40, 10, 10)
    assert result["objects"] == 80
    assert [key for _, key in growth.MEASURES] == list(result["pages_ms"])
    assert all(p50 > 0 and p95 >= p50 for p50, p95 in result["pages_ms"].values())
    full, metadata = result["checks"]["full"], result["checks"]["metadata"]
    assert (full["objects"], full["hashed_objects"], full["opened_pdfs"]) == (80, 80, 40)
    assert full["findings"] == 0 and metadata["findings"] == 0
    text = growth.report([result], runs=2, size=2048, pending_share=0.25)
    assert "| 40 |" in text and "search: USCC fragment" in text
