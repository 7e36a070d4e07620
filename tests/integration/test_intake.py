"""The intake folder on a real filesystem: finding, settling, claiming, racing, recovering."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from pathlib import Path

import pytest

from config.errors import ConfigurationError
from ingest.errors import AlreadyClaimedError
from ingest.intake import (
    MANIFEST_NAME,
    Candidate,
    IntakeWatcher,
    SettleTracker,
    claim,
    complete,
    find_candidates,
    load_claim,
    recover_stale_claims,
    return_to_intake,
    settled_candidates,
)

REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, data: bytes = b"scan bytes") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _by_path(cands: list[Candidate]) -> dict[str, Candidate]:
    return {c.relative_path: c for c in cands}


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    intake, work = tmp_path / "intake", tmp_path / "work"
    intake.mkdir()
    work.mkdir()
    return intake, work


# --- finding -------------------------------------------------------------------------------


def test_hidden_and_temporary_names_are_skipped(dirs: tuple[Path, Path]) -> None:
    intake, _ = dirs
    for name in [
        "营业执照.jpg",
        "客户A/身份证 正面.png",
        "客户A/2024/合同.pdf",
        ".hidden.jpg",
        "~$合同.docx",
        "upload.PART",
        "scan.tmp",
        "photo.jpg.crdownload",
        "old.pdf.error.json",
        ".git/objects/x.jpg",
        "客户A/.thumbnails/t.jpg",
    ]:
        _write(intake / name)
    found = {c.relative_path for c in find_candidates(intake)}
    assert found == {"营业执照.jpg", "客户A/2024/合同.pdf", "客户A/身份证 正面.png"}


def test_excluded_folder_is_not_walked(dirs: tuple[Path, Path]) -> None:
    intake, _ = dirs
    _write(intake / "a.jpg")
    _write(intake / "work" / "processing" / "b.jpg")
    found = [c.relative_path for c in find_candidates(intake, exclude=[intake / "work"])]
    assert found == ["a.jpg"]


def test_symlink_to_outside_file_is_refused_and_not_followed(
    dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    intake, work = dirs
    secret = _write(tmp_path / "outside" / "secret.txt", b"do not read me")
    secret_dir = secret.parent
    os.symlink(secret, intake / "link.jpg")
    os.symlink(secret_dir, intake / "linked-folder")
    cands = _by_path(list(find_candidates(intake)))
    assert set(cands) == {"link.jpg", "linked-folder"}  # the folder link is not descended
    link = cands["link.jpg"]
    assert link.refused and link.kind == "symlink"
    assert link.link_target == str(secret)
    assert link.size == len(str(secret))  # lstat: the link itself, not the target

    got = claim(link, work_dir=work, run_id="r1")
    assert got.refused and got.kind == "symlink" and got.sha256 is None
    assert got.path.is_symlink() and got.link_target == str(secret)
    assert secret.read_bytes() == b"do not read me"


@pytest.mark.timeout(20)
def test_fifo_is_refused_without_blocking(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    os.mkfifo(intake / "pipe.jpg")
    result: dict[str, object] = {}

    def scan_and_claim() -> None:
        (cand,) = find_candidates(intake)
        result["cand"] = cand
        result["claim"] = claim(cand, work_dir=work, run_id="r1")

    worker = threading.Thread(target=scan_and_claim, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "scanning or claiming a FIFO blocked"
    assert result["cand"].refused and result["cand"].kind == "fifo"  # type: ignore[attr-defined]
    got = result["claim"]
    assert got.refused and got.kind == "fifo" and got.sha256 is None  # type: ignore[attr-defined]


def test_socket_is_refused(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(intake / "s.pdf"))
        (cand,) = find_candidates(intake)
        assert cand.refused and cand.kind == "socket"
        got = claim(cand, work_dir=work, run_id="r1")
        assert got.refused and got.sha256 is None


# --- settling ------------------------------------------------------------------------------


def test_growing_file_is_not_taken_until_it_stops(dirs: tuple[Path, Path]) -> None:
    intake, _ = dirs
    watcher = IntakeWatcher(intake, settle_seconds=0.4)
    target = intake / "正在扫描.tif"
    stop = threading.Event()

    def grow() -> None:
        with open(target, "ab") as fh:
            while not stop.is_set():
                fh.write(b"x" * 1000)
                fh.flush()
                time.sleep(0.05)

    writer = threading.Thread(target=grow)
    writer.start()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert watcher.poll() == [], "a growing file was taken"
            time.sleep(0.1)
    finally:
        stop.set()
        writer.join()
    final_size = target.stat().st_size
    taken: list[Candidate] = []
    deadline = time.monotonic() + 5
    while not taken and time.monotonic() < deadline:
        taken = watcher.poll()
        time.sleep(0.1)
    assert [c.relative_path for c in taken] == ["正在扫描.tif"]
    assert taken[0].size == final_size


def test_settle_tracker_restarts_wait_on_change(dirs: tuple[Path, Path]) -> None:
    intake, _ = dirs
    now = [100.0]
    tracker = SettleTracker(5.0, clock=lambda: now[0])
    f = _write(intake / "a.jpg", b"1")
    assert tracker.settled(find_candidates(intake)) == []
    now[0] += 3
    f.write_bytes(b"12")
    assert tracker.settled(find_candidates(intake)) == []
    now[0] += 4  # 7 s since first sight, but only 4 s since the change
    assert tracker.settled(find_candidates(intake)) == []
    now[0] += 1.5
    assert [c.relative_path for c in tracker.settled(find_candidates(intake))] == ["a.jpg"]
    f.unlink()
    assert tracker.settled(find_candidates(intake)) == []
    assert tracker._seen == {}  # vanished entries are forgotten


def test_one_shot_pass_takes_old_files_only(dirs: tuple[Path, Path]) -> None:
    intake, _ = dirs
    _write(intake / "old.jpg")
    time.sleep(0.5)
    _write(intake / "new.jpg")
    # an old mtime set back by a copy tool does not fool it: the ctime is recent
    restored = _write(intake / "restored.jpg")
    os.utime(restored, (time.time() - 3600, time.time() - 3600))
    taken = settled_candidates(intake, settle_seconds=0.4)
    assert [c.relative_path for c in taken] == ["old.jpg"]


# --- claiming ------------------------------------------------------------------------------


def test_claim_moves_file_and_writes_manifest(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    data = os.urandom(5000)
    _write(intake / "客户甲" / "营业执照.jpg", data)
    (cand,) = find_candidates(intake)
    got = claim(cand, work_dir=work, run_id="run-1")

    assert not (intake / "客户甲" / "营业执照.jpg").exists()
    assert got.path.read_bytes() == data
    assert got.path.name == "营业执照.jpg"
    assert got.claim_dir.parent == work / "processing" / "run-1"
    manifest = json.loads((got.claim_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["relative_path"] == "客户甲/营业执照.jpg"
    assert manifest["sha256"] == _sha(data)
    assert manifest["size"] == 5000
    assert manifest["pid"] == os.getpid()
    assert manifest["run_id"] == "run-1"
    assert manifest["host"] and manifest["claimed_at"]
    assert [p.name for p in got.claim_dir.iterdir()] == sorted([MANIFEST_NAME, "营业执照.jpg"])
    assert load_claim(got.claim_dir) == got


def test_claim_of_vanished_file_is_a_conflict(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    f = _write(intake / "a.jpg")
    (cand,) = find_candidates(intake)
    f.unlink()
    with pytest.raises(AlreadyClaimedError):
        claim(cand, work_dir=work, run_id="r1")
    assert not (work / "processing" / "r1").exists(), "no empty claim folder left behind"


def test_names_keep_their_bytes_but_display_nfc(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    nfd = unicodedata.normalize("NFD", "Café-客户.jpg")
    _write(intake / nfd)
    raw = b"\xff\xfe-scan.jpg"  # not UTF-8 at all
    (intake / os.fsdecode(raw)).write_bytes(b"raw")
    cands = list(find_candidates(intake))
    claims = [claim(c, work_dir=work, run_id="r1") for c in cands]
    names_on_disk = {os.fsencode(c.path.name) for c in claims}
    assert names_on_disk == {nfd.encode(), raw}
    displays = {c.display_path for c in claims}
    assert "Café-客户.jpg" in displays and r"\xff\xfe-scan.jpg" in displays
    for c in claims:
        back = return_to_intake(load_claim(c.claim_dir))
        assert back.parent == intake
    assert {os.fsencode(n) for n in os.listdir(intake)} == {nfd.encode(), raw}


def test_work_dir_on_another_filesystem_fails_loudly(dirs: tuple[Path, Path]) -> None:
    intake, _ = dirs
    shm = Path("/dev/shm")
    # A precondition, not a skip: Linux machines (and CI) have /dev/shm as a separate tmpfs.
    assert shm.is_dir() and shm.stat().st_dev != intake.stat().st_dev, (
        "this test needs /dev/shm on a filesystem other than the temporary folder's"
    )
    f = _write(intake / "a.jpg")
    (cand,) = find_candidates(intake)
    with tempfile.TemporaryDirectory(dir=shm) as other:
        with pytest.raises(ConfigurationError, match="不在同一文件系统"):
            claim(cand, work_dir=other, run_id="r1")
        assert not (Path(other) / "processing" / "r1").exists()
    assert f.read_bytes() == b"scan bytes"


def test_complete_and_return_to_intake(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    _write(intake / "客户乙" / "a.jpg", b"first")
    _write(intake / "b.jpg", b"second")
    claims = {
        c.relative_path: claim(c, work_dir=work, run_id="r1") for c in find_candidates(intake)
    }
    ca, cb = claims["客户乙/a.jpg"], claims["b.jpg"]

    complete(cb)
    assert not cb.claim_dir.exists()

    # while claimed, a new file with the same name arrived: never overwrite it
    (intake / "客户乙" / "a.jpg").write_bytes(b"newcomer")
    back = return_to_intake(ca)
    assert back == intake / "客户乙" / "a-2.jpg"
    assert back.read_bytes() == b"first"
    assert (intake / "客户乙" / "a.jpg").read_bytes() == b"newcomer"
    assert not ca.claim_dir.exists()
    assert not (work / "processing" / "r1").exists()


def test_return_to_intake_recreates_subfolders(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    _write(intake / "x" / "y" / "z.pdf", b"pdf")
    (cand,) = find_candidates(intake)
    got = claim(cand, work_dir=work, run_id="r1")
    os.rmdir(intake / "x" / "y")
    os.rmdir(intake / "x")
    assert return_to_intake(got) == intake / "x" / "y" / "z.pdf"
    assert (intake / "x" / "y" / "z.pdf").read_bytes() == b"pdf"


# --- two processes, one intake --------------------------------------------------------------

_RACER = """
import json, os, sys, time
from ingest.errors import AlreadyClaimedError
from ingest.intake import claim, find_candidates
intake, work, run_id, go = sys.argv[1:5]
while not os.path.exists(go):
    time.sleep(0.001)
got = []
for cand in find_candidates(intake):
    try:
        got.append(claim(cand, work_dir=work, run_id=run_id).relative_path)
    except AlreadyClaimedError:
        pass
print(json.dumps(got))
"""


def _python(code: str, *args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", code, *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)


def test_two_processes_racing_claim_each_file_once(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    intake, work = dirs
    names = {f"客户{i % 5}/scan-{i:02d}.jpg" for i in range(50)}
    for name in names:
        _write(intake / name, name.encode())
    go = tmp_path / "go"
    racers = [_python(_RACER, intake, work, f"run-{n}", go) for n in (1, 2)]
    time.sleep(1.0)  # let both import and wait at the line
    go.touch()
    outputs = [json.loads(p.communicate(timeout=60)[0]) for p in racers]
    assert all(p.returncode == 0 for p in racers)

    first, second = (set(o) for o in outputs)
    assert len(outputs[0]) + len(outputs[1]) == 50
    assert first.isdisjoint(second)
    assert first | second == names
    claimed = [p for p in (work / "processing").rglob("*.jpg")]
    assert len(claimed) == 50
    for c in claimed:
        assert c.read_bytes().decode() == load_claim(c.parent).relative_path


# --- crash recovery -------------------------------------------------------------------------

_CRASHER = """
import os, sys, time
from ingest.intake import claim, find_candidates
intake, work, ready = sys.argv[1:4]
for cand in find_candidates(intake):
    claim(cand, work_dir=work, run_id="crashed-run")
open(ready, "w").close()
time.sleep(120)
"""


def _claim_then_die(intake: Path, work: Path, tmp_path: Path) -> int:
    ready = tmp_path / "ready"
    proc = _python(_CRASHER, intake, work, ready)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None, "the crashing child failed early"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return proc.pid


def test_stale_claims_of_killed_process_are_recovered(
    dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    intake, work = dirs
    originals = {"a.jpg": b"A" * 10, "客户丙/b.pdf": b"B" * 20, "客户丙/c.png": b"C" * 30}
    for name, data in originals.items():
        _write(intake / name, data)
    dead_pid = _claim_then_die(intake, work, tmp_path)
    assert list(find_candidates(intake)) == []

    # a crash half-way through complete(): the manifest is left but the file is gone
    crashed_dir = work / "processing" / "crashed-run"
    half_done = next(d for d in crashed_dir.iterdir() if (d / "a.jpg").exists())
    (half_done / "a.jpg").unlink()

    recovered = recover_stale_claims(work_dir=work, intake_dir=intake, run_id="run-2")
    assert {c.relative_path for c in recovered} == {"客户丙/b.pdf", "客户丙/c.png"}
    for c in recovered:
        assert c.recovered_from == "crashed-run"
        assert c.run_id == "run-2" and c.pid == os.getpid()
        assert c.claim_dir.parent == work / "processing" / "run-2"
        assert c.sha256 == _sha(originals[c.relative_path])
        assert c.path.read_bytes() == originals[c.relative_path]
        assert load_claim(c.claim_dir).pid == os.getpid()
    assert not crashed_dir.exists(), "the crashed run's folder is cleaned up"
    assert dead_pid != os.getpid()

    # nothing is recovered twice: this process is alive and owns them now
    assert recover_stale_claims(work_dir=work, intake_dir=intake, run_id="run-3") == []

    for c in recovered:
        return_to_intake(c)
    assert {c.relative_path for c in find_candidates(intake)} == {"客户丙/b.pdf", "客户丙/c.png"}


def test_claims_of_live_processes_are_left_alone(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    _write(intake / "a.jpg")
    (cand,) = find_candidates(intake)
    mine = claim(cand, work_dir=work, run_id="r1")
    assert recover_stale_claims(work_dir=work, intake_dir=intake, run_id="r2") == []
    # another live process on this host (as the is_alive seam says) keeps its claim too
    other = {
        **json.loads((mine.claim_dir / MANIFEST_NAME).read_text()),
        "pid": 1,
        "pid_start": None,
    }
    (mine.claim_dir / MANIFEST_NAME).write_text(json.dumps(other))
    alive = recover_stale_claims(work_dir=work, intake_dir=intake, run_id="r2", is_alive=bool)
    assert alive == []
    # ... until it is too old
    (got,) = recover_stale_claims(
        work_dir=work, intake_dir=intake, run_id="r2", is_alive=bool, max_age_seconds=0
    )
    assert got.recovered_from == "r1" and got.path.exists()
