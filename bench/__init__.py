"""Benchmarks and the synthetic sample generator (not part of the installed package)."""
