"""Isolated processing: real child processes, real signals, a real address-space limit.

The functions run in the children are module-level so the forkserver workers can import them.
"""

from __future__ import annotations

import os
import pickle
import resource
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from config.errors import DossierError
from ingest.errors import (
    CorruptFileError,
    IngestError,
    ProcessingTimeoutError,
    TooLargeError,
    WorkerCrashedError,
)
from ingest.isolation import IsolatedPool, run_isolated

# --- run in the child ----------------------------------------------------------------------


def child_facts(x: int, *, y: str) -> dict[str, object]:
    return {
        "x": x,
        "y": y,
        "pid": os.getpid(),
        "own_group": os.getpgid(0) == os.getpid(),
        "omp": os.environ.get("OMP_THREAD_LIMIT"),
        "rlimit_as": resource.getrlimit(resource.RLIMIT_AS)[0],
    }


def sleep_with_grandchild(pid_file: str) -> None:
    grandchild = subprocess.Popen(["sleep", "60"])
    Path(pid_file).write_text(str(grandchild.pid))
    time.sleep(60)


def sleep_for(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def sleep_span(seconds: float) -> tuple[int, float, float]:
    start = time.time()
    time.sleep(seconds)
    return os.getpid(), start, time.time()


def allocate(n_bytes: int) -> int:
    block = bytearray(n_bytes)
    return len(block)


def raise_ours() -> None:
    raise CorruptFileError("文件损坏：无法解码第 3 页", page=3)


def raise_value_error() -> None:
    raise ValueError("bad value 42")


class AwkwardError(Exception):
    """Cannot be rebuilt from its args, so it does not survive pickling."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")


def raise_awkward() -> None:
    raise AwkwardError("left", "right")


def die_by(sig: int) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(5)


def big_result(n_bytes: int) -> bytes:
    return b"x" * n_bytes


# --- helpers -------------------------------------------------------------------------------


def _gone(pid: int, within: float = 5.0) -> bool:
    """True once ``pid`` no longer exists (or is a zombie waiting for init)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


_HELD: list[bytearray] = []


def hold_memory(mb: int) -> int:
    """Allocate ``mb`` MiB and keep it for the worker's lifetime (a growing worker)."""
    _HELD.append(bytearray(mb * 1024 * 1024))
    return len(_HELD)


@pytest.fixture
def pool():
    with IsolatedPool(2, timeout_seconds=2.0, memory_limit_mb=1024) as p:
        yield p


# --- tests ---------------------------------------------------------------------------------


def test_result_and_child_setup(pool: IsolatedPool) -> None:
    facts = pool.run(child_facts, 7, y="值")
    assert facts["x"] == 7 and facts["y"] == "值"
    assert facts["pid"] != os.getpid()
    assert facts["own_group"] is True
    assert facts["omp"] == "1"
    assert facts["rlimit_as"] == 1024 * 1024 * 1024


def test_workers_are_reused(pool: IsolatedPool) -> None:
    pids = {pool.run(child_facts, i, y="")["pid"] for i in range(6)}
    assert len(pids) in (1, 2)  # two workers at most, reused


def test_timeout_kills_child_and_grandchild(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    started = time.monotonic()
    with pytest.raises(ProcessingTimeoutError) as info:
        run_isolated(
            sleep_with_grandchild, str(pid_file), timeout_seconds=1.5, memory_limit_mb=None
        )
    elapsed = time.monotonic() - started
    assert "处理超时（超过 1.5 秒）" in info.value.message
    assert info.value.code == "timeout"
    assert elapsed < 1.5 + 3.0  # the limit plus worker start-up, not the child's 60 s
    grandchild = int(pid_file.read_text())
    assert _gone(grandchild), "the tesseract-like grandchild must be killed with its parent"


def test_pool_replaces_worker_after_timeout() -> None:
    with IsolatedPool(1, timeout_seconds=0.5, memory_limit_mb=None) as p:
        first = p.run(sleep_for, 0)
        with pytest.raises(ProcessingTimeoutError):
            p.run(sleep_for, 30)
        assert _gone(first)
        second = p.run(sleep_for, 0)
        assert second != first


def test_memory_bound_stops_4gb_allocation() -> None:
    with IsolatedPool(1, timeout_seconds=30, memory_limit_mb=512) as p:
        with pytest.raises(TooLargeError) as info:
            p.run(allocate, 4 * 1024**3)
        assert info.value.message == "处理时内存超过上限 512 MB"
        assert info.value.code == "too_large"
        # the pool carries on with a fresh worker
        assert p.run(allocate, 10 * 1024 * 1024) == 10 * 1024 * 1024


def test_our_errors_keep_type_message_and_detail(pool: IsolatedPool) -> None:
    with pytest.raises(CorruptFileError) as info:
        pool.run(raise_ours)
    assert info.value.message == "文件损坏：无法解码第 3 页"
    assert info.value.detail == {"page": 3}
    assert any("raise_ours" in note for note in info.value.__notes__)


def test_dossier_errors_pickle() -> None:
    err = CorruptFileError("文件损坏", page=3, name="营业执照.jpg")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is CorruptFileError
    assert (back.message, back.detail) == (err.message, err.detail)
    assert isinstance(back, DossierError)


def test_other_exceptions_keep_type(pool: IsolatedPool) -> None:
    with pytest.raises(ValueError, match="bad value 42"):
        pool.run(raise_value_error)


def test_unpicklable_exception_becomes_ingest_error(pool: IsolatedPool) -> None:
    with pytest.raises(IngestError) as info:
        pool.run(raise_awkward)
    assert "AwkwardError" in info.value.message and "left/right" in info.value.message
    # the worker survived an ordinary exception and still answers
    assert pool.run(child_facts, 1, y="ok")["x"] == 1


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGABRT, signal.SIGTERM])
def test_death_by_signal_is_named(pool: IsolatedPool, sig: signal.Signals) -> None:
    with pytest.raises(WorkerCrashedError) as info:
        pool.run(die_by, int(sig))
    assert sig.name in info.value.message
    assert info.value.detail["signal"] == sig.name


def test_result_size_is_bounded() -> None:
    with IsolatedPool(1, timeout_seconds=10, memory_limit_mb=None, max_result_bytes=100_000) as p:
        assert len(p.run(big_result, 50_000)) == 50_000
        with pytest.raises(IngestError, match="处理结果过大"):
            p.run(big_result, 200_000)


def test_two_workers_run_in_parallel() -> None:
    with IsolatedPool(2, timeout_seconds=10, memory_limit_mb=None) as p:
        spans: list[tuple[int, float, float]] = []
        threads = [
            threading.Thread(target=lambda: spans.append(p.run(sleep_span, 1.0))) for _ in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len({pid for pid, _, _ in spans}) == 2, "two different workers"
    assert max(start for _, start, _ in spans) < min(end for _, _, end in spans), "overlapped"


def test_fork_is_refused() -> None:
    with pytest.raises(ValueError, match="fork"):
        IsolatedPool(1, timeout_seconds=1, memory_limit_mb=None, start_method="fork")


def test_sigkill_from_outside_is_reported_as_memory(pool: IsolatedPool) -> None:
    # The kernel's OOM killer is what sends SIGKILL to a worker; our own timeout is separate.
    with pytest.raises(TooLargeError) as info:
        pool.run(die_by, int(signal.SIGKILL))
    assert "1024 MB" in info.value.message and "SIGKILL" in info.value.message


def test_a_task_the_worker_cannot_load_is_retryable_not_the_files_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our code failing to import in the worker must not quarantine every file as "internal"."""
    import importlib
    import sys

    from ingest.errors import WorkerSetupError

    # one worker, started (with its sys.path) before the module exists
    pool = IsolatedPool(1, timeout_seconds=5.0, memory_limit_mb=1024)
    pool.run(child_facts, 1, y="")
    (tmp_path / "only_in_parent_mod.py").write_text("def work():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("only_in_parent_mod")
    try:
        with pytest.raises(WorkerSetupError) as info:
            pool.run(module.work)
        assert info.value.retryable is True
        assert "only_in_parent_mod" in info.value.message
    finally:
        sys.modules.pop("only_in_parent_mod", None)
        pool.close()


def test_a_grown_worker_out_of_memory_retries_the_file_in_a_fresh_worker() -> None:
    """Memory held from earlier files must not make the next file "too large"; a file that
    does not fit even a fresh worker still is."""
    with IsolatedPool(1, timeout_seconds=20.0, memory_limit_mb=700) as pool:
        assert pool.run(hold_memory, 250) == 1
        assert pool.run(hold_memory, 250) == 2
        # the third 250 MiB does not fit beside the 500 held: a fresh worker takes it
        assert pool.run(hold_memory, 250) == 1
        with pytest.raises(TooLargeError):
            pool.run(hold_memory, 900)
