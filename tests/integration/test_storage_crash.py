"""A store write killed at every step leaves nothing or an object a rerun reuses.

A child process (this file run as a script) puts one object into a real local store and
SIGKILLs itself at the Nth file-system step of that put (an ``open`` for writing, a rename, an
unlink), found through Python's audit hooks: the same calls production makes, no patching.
After each kill, the object is either absent or complete with its digest known, so
``holding(key, sha256=...)`` reuses it; listings show exactly one object afterwards.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.storage import LocalObjectStore
from archive.storage.local import TMP_PREFIX
from tests.fixtures.ingest import REPO_ROOT, sha256_bytes

KEY = "企业客户/2026/Q4/甲公司/甲公司-营业执照-2026-12-06.pdf"
DATA = b"%PDF-1.4 kill point test\n" * 4096
_MUTATING = {"os.rename", "os.remove", "os.unlink", "os.rmdir"}


def _child(root: str, kill_at: int) -> None:
    steps = 0

    def hook(event: str, args: tuple) -> None:
        nonlocal steps
        writing = event == "open" and isinstance(args[1], str) and set(args[1]) & set("wxa")
        writing = writing or (event == "open" and isinstance(args[2], int) and args[2] & 3)
        if writing or event in _MUTATING:
            steps += 1
            if steps == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    store = LocalObjectStore(Path(root))
    store.ensure_ready()
    sys.addaudithook(hook)
    store.put(KEY, io.BytesIO(DATA), content_type="application/pdf")


def run_child(root: Path, kill_at: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    code = (
        "from tests.integration.test_storage_crash import _child; "
        f"_child({str(root)!r}, {kill_at})"
    )
    child = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, timeout=60)
    return child.returncode


@pytest.mark.timeout(300)
def test_a_put_killed_at_any_step_leaves_nothing_or_a_reusable_object(tmp_path: Path) -> None:
    sha = sha256_bytes(DATA)
    survived = 0
    for kill_at in range(1, 20):
        root = tmp_path / f"k{kill_at}"
        rc = run_child(root, kill_at)
        store = LocalObjectStore(root)
        keys = [o.key for o in store.iter_objects("")]
        if rc == 0:
            assert keys == [KEY]
            break
        assert rc == -signal.SIGKILL, rc
        assert keys in ([], [KEY]), keys
        if keys:  # complete, digest known: a rerun reuses it
            assert store.head(KEY).sha256 == sha
            assert store.holding(KEY, sha256=sha) is not None
        else:  # the rerun writes it once
            store.put(KEY, io.BytesIO(DATA))
        assert [o.key for o in store.iter_objects("")] == [KEY]
        assert store.sha256_of(KEY) == sha
        survived += 1
    else:
        pytest.fail("the put never completed")
    assert survived >= 4, f"only {survived} kill points reached"


def test_holding_reuses_an_object_without_a_recorded_digest(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    store.put(KEY, io.BytesIO(DATA))
    for sidecar in (tmp_path / "objects" / ".dossier-meta").rglob("*.json"):
        sidecar.unlink()
    assert store.head(KEY).sha256 is None
    assert store.holding(KEY, sha256=sha256_bytes(DATA)) is not None
    assert store.holding(KEY, sha256=sha256_bytes(b"other")) is None


def test_a_stale_temporary_file_is_swept_by_the_next_put(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    folder = tmp_path / "objects" / "a"
    folder.mkdir(parents=True)
    stale = folder / f"{TMP_PREFIX}dead"
    stale.write_bytes(b"partial")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    store.put("a/b.pdf", io.BytesIO(b"x"))
    assert not stale.exists()
