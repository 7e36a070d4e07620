"""The customer list benchmark (bench/customers.py) at a small size, on SQLite and PostgreSQL:
it seeds, fills the search grams (0018), measures every case before and after migration 0016
(and the gram path) and writes its table. The timing itself is not asserted (that is the
hand-run benchmark's job, docs/benchmarks.md)."""

from __future__ import annotations

from bench import customers as bench


def test_the_customer_list_bench_runs_at_a_small_size(db_url: str) -> None:
    out = bench.run_phases(db_url, customers=150, documents=600, runs=2, phase="both")
    assert bench.index_migration() is not None
    assert list(out["before"]) == list(out["after"])
    assert len(out["after"]) == 19
    assert out["grams_s"] > 0  # migration 0018's fill after the seed
    for figures in (*out["before"].values(), *out["after"].values()):
        assert len(figures) == 4 and all(ms > 0 for ms in figures)
    text = bench.report(out, customers=150, documents=600, runs=2)
    assert "| 首页（默认：最近更新） |" in text and "0016" in text
