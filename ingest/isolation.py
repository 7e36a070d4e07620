"""Run one file's processing in a child process with a time limit and a memory bound.

One pathological file (a decompression bomb, a PDF that sends a parser into a loop, a
LibreOffice hang) must not stall or kill the run. :class:`IsolatedPool` keeps worker processes
(started with the ``forkserver`` method, never ``fork``: the parent has threads) and reuses
them between files, so imports and start-up are paid once per worker, not per file:

- each worker runs in its own process group, so a timeout kills it *and* what it started
  (tesseract, soffice) with one ``killpg``;
- ``RLIMIT_AS`` bounds its memory (inherited by its children); ``OMP_THREAD_LIMIT=1``;
- on a timeout, a crash or a ``MemoryError`` the worker is replaced by a fresh one.

Stopping (``dossier serve`` or ``ingest`` told to stop): :meth:`IsolatedPool.drain` starts no new
call, :meth:`IsolatedPool.interrupt` kills the running ones; both raise the retryable
:class:`~ingest.errors.WorkerInterruptedError`, so the file goes back to the intake. The
forkserver ignores SIGTERM and SIGINT (:mod:`ingest.forkserver_signals`): a signal to the whole
process group is for the process running the pass, not for the workers' parent.

Errors come back as the parent's own exceptions: :class:`~ingest.errors.ProcessingTimeoutError`,
:class:`~ingest.errors.TooLargeError` (memory), :class:`WorkerCrashedError` (killed by a
signal, named), and an exception raised in the child is re-raised with its type, message and
detail (the child's traceback is attached as a note). Results must be picklable and small
(``max_result_bytes``); large artifacts go through files.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import queue
import resource
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ingest.errors import (
    IngestError,
    ProcessingTimeoutError,
    TooLargeError,
    WorkerCrashedError,
    WorkerInterruptedError,
    WorkerSetupError,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_RESULT_BYTES = 16 * 1024 * 1024
_START_TIMEOUT_SECONDS = 60.0
_MiB = 1024 * 1024


# The forkserver reports 255 for a child whose status it could not deliver: the forkserver
# itself is gone, which happens only when our own process group is being stopped.
_FORKSERVER_LOST = 255


def _prepare_forkserver() -> None:
    """Start the forkserver (once per process) with :mod:`ingest.forkserver_signals` preloaded:
    it ignores SIGTERM and SIGINT sent to the whole process group."""
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(["__main__", "ingest.forkserver_signals"])
    forkserver.ensure_running()


@dataclass(frozen=True)
class _Failure:
    """An exception from the child that could not be pickled as itself."""

    type_name: str
    message: str
    traceback: str


def _worker_main(conn: Connection, memory_limit_mb: int | None) -> None:
    """Child side: isolate, then run tasks from ``conn`` until told to stop."""
    os.setpgid(0, 0)
    _default_stop_signals()
    _die_with_parent()
    os.environ["OMP_THREAD_LIMIT"] = "1"
    if memory_limit_mb:
        limit = memory_limit_mb * _MiB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send_bytes(b"ready")
    while True:
        try:
            task = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not task:
            return
        conn.send_bytes(_run_task(task))


def _default_stop_signals() -> None:
    """Ignored in the forkserver (and so until now here): back to their defaults, now that this
    worker has its own process group."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent (the forkserver, which exits with us) dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_task(task: bytes) -> bytes:
    try:
        fn, args, kwargs, max_bytes = pickle.loads(task)
    except BaseException as e:  # the code, not the file: an import error, a missing module
        setup = WorkerSetupError(f"处理进程无法加载任务：{type(e).__name__}: {e}")
        return _pickle_error(setup)
    try:
        result = fn(*args, **kwargs)
    except BaseException as e:  # everything goes back to the parent
        return _pickle_error(e)
    try:
        payload = pickle.dumps(("ok", result), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:
        return _pickle_error(IngestError(f"处理结果无法序列化：{type(e).__name__}: {e}"))
    if len(payload) > max_bytes:
        too_big = (
            f"处理结果过大（{len(payload)} 字节，上限 {max_bytes} 字节）；大文件请经由磁盘传递"
        )
        return _pickle_error(IngestError(too_big))
    return payload


def _pickle_error(e: BaseException) -> bytes:
    tb = "".join(traceback.format_exception(e))[-8000:]
    if isinstance(e, MemoryError):
        return pickle.dumps(("memory", tb))
    try:
        payload = pickle.dumps(("error", e, tb))
        pickle.loads(payload)
        return payload
    except Exception:
        failure = _Failure(type(e).__qualname__, str(e), tb)
        return pickle.dumps(("failure", failure))


class _Worker:
    """One child process and its pipe. Used by one thread at a time."""

    def __init__(self, ctx: Any, memory_limit_mb: int | None) -> None:
        self.conn, child_conn = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_worker_main, args=(child_conn, memory_limit_mb), daemon=True
        )
        try:
            self.process.start()
        except (EOFError, OSError) as e:  # the forkserver is gone (e.g. stopped while starting)
            self.conn.close()
            raise WorkerSetupError(f"隔离进程无法启动：{type(e).__name__}: {e}") from e
        finally:
            child_conn.close()
        self.tasks = 0
        if not self.conn.poll(_START_TIMEOUT_SECONDS):
            self.kill()
            raise WorkerSetupError("隔离进程启动超时")
        try:
            self.conn.recv_bytes()
        except (EOFError, OSError) as e:
            self.kill()
            raise WorkerSetupError(f"隔离进程启动失败（退出码 {self.process.exitcode}）") from e

    @property
    def pid(self) -> int:
        return int(self.process.pid or 0)

    def call(self, task: bytes, timeout_seconds: float) -> tuple[str, Any]:
        """Send a task; return the child's answer, ``("timeout",)`` or ``("died", exitcode)``."""
        self.tasks += 1
        try:
            self.conn.send_bytes(task)
            ready = self.conn.poll(timeout_seconds)
        except (BrokenPipeError, EOFError, OSError):
            return self._died()
        if not ready:
            self.kill()
            return ("timeout", None)
        try:
            return pickle.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            return self._died()

    def _died(self) -> tuple[str, Any]:
        self.process.join(5)
        code = self.process.exitcode
        self.kill()
        return ("died", code)

    def kill(self) -> None:
        """Kill the worker's whole process group and reap the worker."""
        pid = self.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        """Ask the worker to exit; kill it if it does not within a few seconds."""
        with contextlib.suppress(OSError):
            self.conn.send_bytes(b"")
        self.process.join(5)
        self.kill()


class IsolatedPool:
    """Reusable isolated workers: at most ``workers`` files processed at once.

    Thread-safe: call :meth:`run` from several threads (e.g. a thread task runner); each call
    takes an idle worker, waiting if all are busy.

    Example::

        with IsolatedPool(2, timeout_seconds=600, memory_limit_mb=3072) as pool:
            outcome = pool.run(process_one, path, params=params)
    """

    def __init__(
        self,
        workers: int,
        *,
        timeout_seconds: float,
        memory_limit_mb: int | None,
        max_tasks_per_worker: int = 200,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        start_method: str = "forkserver",
    ) -> None:
        if start_method == "fork":
            raise ValueError("fork is unsafe with threads; use forkserver or spawn")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.timeout_seconds = timeout_seconds
        self.memory_limit_mb = memory_limit_mb
        self.max_tasks_per_worker = max_tasks_per_worker
        self.max_result_bytes = max_result_bytes
        self._ctx = multiprocessing.get_context(start_method)
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._draining = False  # no new call starts
        self._interrupted = False  # running calls were killed
        if start_method == "forkserver":
            _prepare_forkserver()
        for _ in range(workers):
            self._idle.put(None)  # a slot; the worker starts on first use

    def __enter__(self) -> IsolatedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in an isolated worker and return its result.

        ``fn`` must be importable by name (a module-level function); arguments and the result
        must be picklable.

        Raises:
            ProcessingTimeoutError: The call took longer than ``timeout_seconds``.
            TooLargeError: The call ran out of memory under ``memory_limit_mb``.
            WorkerCrashedError: The worker died (the signal is named).
            Exception: Whatever ``fn`` raised, with its type and message.
        """
        if self._closed:
            raise RuntimeError("IsolatedPool is closed")
        task = pickle.dumps((fn, args, kwargs, self.max_result_bytes), pickle.HIGHEST_PROTOCOL)
        worker = self._idle.get()
        if self._draining:
            self._idle.put(worker)
            raise WorkerInterruptedError("服务停止中，文件未开始处理，已放回收件夹")
        try:
            worker = worker or self._start_worker()
            answer = (
                ("interrupted", None)
                if self._interrupted  # while the worker was starting
                else worker.call(task, self.timeout_seconds)
            )
            if self._interrupted and answer[0] in ("died", "timeout"):
                answer = ("interrupted", None)
            elif _out_of_memory(answer) and worker.tasks > 1:
                # A worker that has served other files may simply have grown (caches, model
                # arenas): give the file one fresh worker before calling the file too large.
                log.info("worker %s ran out of memory; retrying in a fresh worker", worker.pid)
                with self._lock:
                    self._all.discard(worker)
                worker.kill()
                worker = None
                worker = self._start_worker()
                answer = worker.call(task, self.timeout_seconds)
        except BaseException:
            self._release(worker, keep=False)
            raise
        keep = answer[0] in ("ok", "error", "failure")
        self._release(worker, keep=keep)
        return self._unwrap(answer)

    def _start_worker(self) -> _Worker:
        worker = _Worker(self._ctx, self.memory_limit_mb)
        with self._lock:
            self._all.add(worker)
        return worker

    def _release(self, worker: _Worker | None, *, keep: bool) -> None:
        if worker is not None and (not keep or worker.tasks >= self.max_tasks_per_worker):
            with self._lock:
                self._all.discard(worker)
            if keep:
                worker.stop()
            else:
                worker.kill()
            worker = None
        if self._closed and worker is not None:
            worker.stop()
            worker = None
        self._idle.put(worker)

    def _unwrap(self, answer: tuple[Any, ...]) -> Any:
        kind = answer[0]
        if kind == "ok":
            return answer[1]
        if kind == "interrupted":
            raise WorkerInterruptedError("处理因服务停止而中断，文件已放回收件夹")
        if kind == "timeout":
            raise ProcessingTimeoutError(
                f"处理超时（超过 {self.timeout_seconds:g} 秒）",
                timeout_seconds=self.timeout_seconds,
            )
        if kind == "memory":
            raise _memory_error(self.memory_limit_mb, answer[1])
        if kind == "died":
            raise _death_error(answer[1], self.memory_limit_mb)
        if kind == "failure":
            failure: _Failure = answer[1]
            err = IngestError(
                f"{failure.type_name}: {failure.message}", error_type=failure.type_name
            )
            err.add_note(f"child traceback:\n{failure.traceback}")
            raise err
        exc: BaseException = answer[1]
        exc.add_note(f"child traceback:\n{answer[2]}")
        raise exc

    def drain(self) -> None:
        """Start no new call (it raises :class:`WorkerInterruptedError`); running calls go on."""
        self._draining = True

    def interrupt(self) -> None:
        """Kill the running calls now; each raises :class:`WorkerInterruptedError` (retryable:
        its file goes back to the intake, never to quarantine)."""
        self._draining = True
        self._interrupted = True
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            if worker.pid > 0:  # killpg(0) would be our own group
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(worker.pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop all workers (idle ones now; busy ones when their call returns)."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        busy = set(workers)
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker is not None:
                busy.discard(worker)
                worker.stop()
        for worker in busy:
            log.debug("isolated worker %s still busy at close; it stops when done", worker.pid)


def _out_of_memory(answer: tuple[Any, ...]) -> bool:
    """A memory error in the child, or a child killed by SIGKILL (the kernel's OOM killer)."""
    return answer[0] == "memory" or (answer[0] == "died" and answer[1] == -signal.SIGKILL)


def _memory_error(limit_mb: int | None, child_tb: str | None) -> TooLargeError:
    err = TooLargeError(f"处理时内存超过上限 {limit_mb} MB", memory_limit_mb=limit_mb)
    if child_tb:
        err.add_note(f"child traceback:\n{child_tb}")
    return err


def _death_error(exitcode: int | None, limit_mb: int | None) -> IngestError:
    if exitcode is not None and exitcode < 0:
        try:
            sig = signal.Signals(-exitcode)
        except ValueError:
            return WorkerCrashedError(f"处理进程因信号 {-exitcode} 异常终止", exitcode=exitcode)
        if sig == signal.SIGKILL:
            # Nobody in dossier sends SIGKILL except on timeout (handled before); the usual
            # sender is the kernel's OOM killer.
            return TooLargeError(
                f"处理时内存超过上限 {limit_mb} MB（子进程被 SIGKILL 终止）",
                memory_limit_mb=limit_mb,
                signal=sig.name,
            )
        return WorkerCrashedError(
            f"处理进程因信号 {sig.name} 异常终止", signal=sig.name, exitcode=exitcode
        )
    if exitcode == _FORKSERVER_LOST:
        return WorkerInterruptedError(
            "处理进程随服务停止而中断，文件已放回收件夹", exitcode=exitcode
        )
    return WorkerCrashedError(f"处理进程意外退出（退出码 {exitcode}）", exitcode=exitcode)


def run_isolated(
    fn: Callable[..., Any],
    /,
    *args: Any,
    timeout_seconds: float,
    memory_limit_mb: int | None,
    **kwargs: Any,
) -> Any:
    """Run one call in a fresh isolated process (see :class:`IsolatedPool` for the details).

    Pays a process start per call; for many files use an :class:`IsolatedPool`.

    Args:
        fn: A module-level function.
        *args: Its positional arguments (picklable).
        timeout_seconds: Wall-clock limit; the child and its process group are killed after it.
        memory_limit_mb: Address-space limit for the child (``None``: unlimited).
        **kwargs: Its keyword arguments (picklable).

    Returns:
        What ``fn`` returned.
    """
    with IsolatedPool(1, timeout_seconds=timeout_seconds, memory_limit_mb=memory_limit_mb) as pool:
        return pool.run(fn, *args, **kwargs)


def measure_overhead(calls: int = 50) -> dict[str, float]:
    """Time a worker start and the round trip of a trivial call (for the benchmark notes)."""
    start = time.perf_counter()
    with IsolatedPool(1, timeout_seconds=60, memory_limit_mb=None) as pool:
        pool.run(os.getpid)
        first = time.perf_counter() - start
        t0 = time.perf_counter()
        for _ in range(calls):
            pool.run(os.getpid)
        per_call = (time.perf_counter() - t0) / calls
    t0 = time.perf_counter()
    run_isolated(os.getpid, timeout_seconds=60, memory_limit_mb=None)
    one_shot = time.perf_counter() - t0
    return {"first_call_s": first, "warm_call_s": per_call, "run_isolated_s": one_shot}
