"""Handing files in with ingest.intake.drop_file: free names, racing drops, the submitter sidecar.

Real filesystem, real processes: two processes drop the same names at once, a claiming process
is killed, and the submitter must survive every step until the claim is done.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.errors import CorruptFileError
from ingest.intake import (
    MANIFEST_NAME,
    Claim,
    claim,
    drop_file,
    find_candidates,
    load_claim,
    recover_stale_claims,
    return_to_intake,
    takeable_name,
)
from ingest.intake.sidecar import SIDECAR_PREFIX, sidecar_path
from ingest.quarantine import quarantine, record_path_for

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    intake, work = tmp_path / "intake", tmp_path / "work"
    intake.mkdir()
    work.mkdir()
    return intake, work


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _python(code: str, *args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", code, *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "given"),
    [
        ("营业执照.pdf", "营业执照.pdf"),
        (".hidden.pdf", "hidden.pdf"),
        ("~$合同.docx", "合同.docx"),
        ("scan.part", "scan.part_"),
        ("scan.TMP", "scan.TMP_"),
        ("a.crdownload", "a.crdownload_"),
        ("x.error.json", "x.error.json_"),
        ("...", "upload"),
    ],
)
def test_names_the_intake_would_skip_are_made_takeable(wanted: str, given: str) -> None:
    assert takeable_name(wanted) == given


def test_a_name_with_a_folder_is_refused(dirs: tuple[Path, Path]) -> None:
    intake, _ = dirs
    with pytest.raises(ValueError):
        drop_file(b"x", "../outside.pdf", intake)
    assert list(intake.iterdir()) == []


def test_drops_are_taken_by_the_intake_and_never_overwrite(dirs: tuple[Path, Path]) -> None:
    intake, _ = dirs
    (intake / "scan.pdf").write_bytes(b"copied by a clerk")
    first = drop_file(b"first", "scan.pdf", intake, submitted_by="alice")
    second = drop_file(io.BytesIO(b"second"), "scan.pdf", intake / "alice", submitted_by="alice")
    source = intake.parent / "third.pdf"
    source.write_bytes(b"third")
    third = drop_file(source, ".scan.part", intake)
    assert (first.name, second.name, third.name) == ("scan-2.pdf", "scan.pdf", "scan.part_")
    assert (intake / "scan.pdf").read_bytes() == b"copied by a clerk"
    assert [first.read_bytes(), second.read_bytes(), third.read_bytes()] == [
        b"first", b"second", b"third"
    ]
    found = {c.relative_path for c in find_candidates(intake)}
    assert found == {"scan.pdf", "scan-2.pdf", "alice/scan.pdf", "scan.part_"}


def test_a_failed_drop_leaves_nothing_behind(dirs: tuple[Path, Path]) -> None:
    intake, _ = dirs

    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise ConnectionResetError("the browser went away")
            return b"x" * 1000

    with pytest.raises(ConnectionResetError):
        drop_file(Broken(), "half.pdf", intake, submitted_by="alice")
    assert list(intake.iterdir()) == []


# --- two processes, one name ------------------------------------------------------------------

_DROPPER = """
import os, sys, time
from ingest.intake import drop_file
intake, who, go = sys.argv[1:4]
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(40):
    drop_file(f"{who}-{i}".encode(), "扫描件.pdf", intake, submitted_by=who)
"""


def test_two_processes_dropping_one_name_both_survive(
    dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    intake, work = dirs
    go = tmp_path / "go"
    droppers = [_python(_DROPPER, intake, who, go) for who in ("alice", "bob")]
    time.sleep(1.0)  # let both import and wait at the line
    go.touch()
    for p in droppers:
        p.communicate(timeout=60)
        assert p.returncode == 0
    names = _visible(intake)
    assert len(names) == 80 == len(set(names))
    contents = {(intake / n).read_bytes().decode() for n in names}
    assert contents == {f"{who}-{i}" for who in ("alice", "bob") for i in range(40)}
    claims = [claim(c, work_dir=work, run_id="r1") for c in find_candidates(intake)]
    for c in claims:
        assert c.path.read_bytes().decode().split("-")[0] == c.submitted_by
    assert list(intake.iterdir()) == [], "every sidecar was consumed by its claim"


# --- the submitter through claims, returns and crashes ----------------------------------------


def test_the_claim_carries_the_submitter_and_consumes_the_sidecar(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    dropped = drop_file(b"scan", "a.pdf", intake / "alice", submitted_by="alice")
    (plain,) = [p for p in (intake / "alice").iterdir() if p.name.startswith(SIDECAR_PREFIX)]
    assert json.loads(plain.read_text(encoding="utf-8"))["submitted_by"] == "alice"
    (cand,) = find_candidates(intake)
    got = claim(cand, work_dir=work, run_id="r1")
    assert got.submitted_by == "alice"
    assert load_claim(got.claim_dir).submitted_by == "alice"
    assert not sidecar_path(dropped).exists()
    assert _visible(intake / "alice") == [] and list((intake / "alice").iterdir()) == []


def test_a_sidecar_for_other_bytes_is_not_honoured(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    dropped = drop_file(b"alice's scan", "a.pdf", intake, submitted_by="alice")
    dropped.unlink()  # a clerk removes it and copies another file under the same name
    (intake / "a.pdf").write_bytes(b"someone else's scan")
    (cand,) = find_candidates(intake)
    assert claim(cand, work_dir=work, run_id="r1").submitted_by is None
    assert sidecar_path(dropped).exists(), "left alone: it describes other bytes"


def test_a_file_returned_to_the_intake_keeps_its_submitter(dirs: tuple[Path, Path]) -> None:
    intake, work = dirs
    drop_file(b"scan", "a.pdf", intake, submitted_by="alice")
    (cand,) = find_candidates(intake)
    first = claim(cand, work_dir=work, run_id="r1")
    (intake / "a.pdf").write_bytes(b"a newer file took the name meanwhile")
    back = return_to_intake(first)
    assert back.name == "a-2.pdf" and back.read_bytes() == b"scan"
    again = {c.relative_path: claim(c, work_dir=work, run_id="r2") for c in find_candidates(intake)}
    assert again["a-2.pdf"].submitted_by == "alice"
    assert again["a.pdf"].submitted_by is None


_CLAIMER = """
import os, sys, time
from ingest.intake import claim, find_candidates
intake, work, ready = sys.argv[1:4]
for cand in find_candidates(intake):
    claim(cand, work_dir=work, run_id="crashed-run")
open(ready, "w").close()
time.sleep(120)
"""


def test_the_submitter_survives_a_killed_claimer(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    intake, work = dirs
    drop_file(b"scan", "a.pdf", intake / "alice", submitted_by="alice")
    ready = tmp_path / "ready"
    proc = _python(_CLAIMER, intake, work, ready)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    (adopted,) = recover_stale_claims(work_dir=work, intake_dir=intake, run_id="run-2")
    assert adopted.recovered_from == "crashed-run"
    assert adopted.submitted_by == "alice"
    assert load_claim(adopted.claim_dir).submitted_by == "alice"


def test_a_crash_between_rename_and_hash_still_finds_the_sidecar(
    dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    """What a kill right after the claim's rename leaves: a manifest without sha256 or
    submitter, the file in the claim folder, and the sidecar still in the intake."""
    intake, work = dirs
    dropped = drop_file(b"scan", "a.pdf", intake / "alice", submitted_by="alice")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    claim_dir = work / "processing" / "crashed-run" / "0001-dead"
    claim_dir.mkdir(parents=True)
    os.rename(dropped, claim_dir / "a.pdf")
    pending = Claim(
        claim_dir=claim_dir, path=claim_dir / "a.pdf", intake_dir=intake,
        relative_path="alice/a.pdf",
        relative_path_b64="YWxpY2UvYS5wZGY=", sha256=None, size=4, kind="regular",
        link_target=None, claimed_at="2026-12-06T00:00:00+00:00", pid=int(dead.stdout),
        pid_start=None, host=os.uname().nodename, run_id="crashed-run",
    )
    (claim_dir / MANIFEST_NAME).write_text(json.dumps(pending.manifest()), encoding="utf-8")
    (adopted,) = recover_stale_claims(work_dir=work, intake_dir=intake, run_id="run-2")
    assert adopted.sha256 == _sha(b"scan")
    assert adopted.submitted_by == "alice"
    assert not sidecar_path(dropped).exists()


def test_a_quarantined_drop_names_its_submitter(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    intake, work = dirs
    drop_file(b"not a scan", "a.pdf", intake / "alice", submitted_by="alice")
    (cand,) = find_candidates(intake)
    got = claim(cand, work_dir=work, run_id="r1")
    kept = quarantine(got, quarantine_dir=tmp_path / "quarantine", run_id="r1",
                      error=CorruptFileError("PDF 文件损坏"))
    record = json.loads(record_path_for(kept).read_text(encoding="utf-8"))
    assert record["submitted_by"] == "alice"
    assert record["original_relative_path"] == "alice/a.pdf"
