"""Shared test set-up. Fixtures live in tests/fixtures/ (databases, S3-protocol server, samples)."""

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
# Never let a developer's own dossier.toml or DOSSIER_* variables leak into tests.
for _name in [n for n in os.environ if n.startswith("DOSSIER_") and n != "DOSSIER_CORPUS_DIR"]:
    del os.environ[_name]

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.s3",
    "tests.fixtures.settings",
]
