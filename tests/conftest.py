"""Shared test set-up. Fixtures live in tests/fixtures/ (databases, S3-protocol server, samples)."""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# No timed tests: hypothesis's default 200 ms deadline per example failed a check-digit
# property on a loaded machine (306 ms once, 0.3 ms on the replay).
settings.register_profile("dossier", deadline=None)
settings.load_profile("dossier")

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
# Never let a developer's own dossier.toml or DOSSIER_* variables leak into tests.
for _name in [n for n in os.environ if n.startswith("DOSSIER_") and n != "DOSSIER_CORPUS_DIR"]:
    del os.environ[_name]


def _descendants(root: int) -> set[int]:
    """Live (non-zombie) descendants of ``root``, read from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


_ALLOWED = (b"multiprocessing.forkserver", b"multiprocessing.resource_tracker")


def _leftovers(before: set[int]) -> list[str]:
    found = []
    for pid in sorted(_descendants(os.getpid()) - before):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if not any(a in cmdline for a in _ALLOWED):
            text = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{pid}: {text[:160]}")
    return found


@pytest.fixture(autouse=True)
def _no_leftover_processes() -> Iterator[None]:
    """Fail a test that leaves a child process behind (session fixtures start before this).

    multiprocessing's forkserver and resource tracker are per-interpreter singletons: allowed.
    """
    before = _descendants(os.getpid())
    yield
    deadline = time.monotonic() + 10
    left = _leftovers(before)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _leftovers(before)
    if left:
        pytest.fail("test left child processes behind:\n" + "\n".join(left))


pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.s3",
    "tests.fixtures.settings",
]
