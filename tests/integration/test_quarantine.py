"""Quarantine on a real filesystem: bytes kept, reasons recorded, names never overwritten."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from config.errors import ErrorCode
from ingest.errors import CorruptFileError, NotRegularFileError, ProcessingTimeoutError
from ingest.intake import Claim, claim, complete, find_candidates
from ingest.quarantine import list_quarantine, quarantine, record_path_for

DAY = datetime(2026, 3, 9, 14, 30).astimezone()


def _claim_one(intake: Path, work: Path, relative: str, data: bytes) -> Claim:
    path = intake / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    (cand,) = [c for c in find_candidates(intake) if c.relative_path == relative]
    return claim(cand, work_dir=work, run_id="run-q")


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    intake, work, quar = tmp_path / "intake", tmp_path / "work", tmp_path / "quarantine"
    for d in (intake, work, quar):
        d.mkdir()
    return intake, work, quar


def test_quarantine_keeps_bytes_and_writes_record(dirs: tuple[Path, Path, Path]) -> None:
    intake, work, quar = dirs
    data = os.urandom(100_000)
    c = _claim_one(intake, work, "客户甲/营业执照.jpg", data)
    err = CorruptFileError("图像数据损坏，无法解码", decoder="jpeg")

    dest = quarantine(c, quarantine_dir=quar, error=err, run_id="run-q", extra={"page": 1}, now=DAY)

    assert dest == quar / "corrupt" / "20260309" / "营业执照.jpg"
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert not c.path.exists()
    record = json.loads(record_path_for(dest).read_text(encoding="utf-8"))
    assert record_path_for(dest).name == "营业执照.jpg.error.json"
    assert record["reason"] == "corrupt"
    assert record["reason_label"] == "文件损坏或无法读取"
    assert record["message"] == "图像数据损坏，无法解码"
    assert record["message_en"] == "The file is corrupt or unreadable"
    assert record["error_type"] == "CorruptFileError"
    assert record["detail"] == {"decoder": "jpeg"}
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["size"] == 100_000
    assert record["original_relative_path"] == "客户甲/营业执照.jpg"
    assert record["run_id"] == "run-q"
    assert record["extra"] == {"page": 1}
    assert datetime.fromisoformat(record["quarantined_at"]) == DAY
    # nothing temporary left next to it
    assert sorted(p.name for p in dest.parent.iterdir()) == [
        "营业执照.jpg",
        "营业执照.jpg.error.json",
    ]
    complete(c)
    assert not c.claim_dir.exists()


def test_name_collisions_get_numbered(dirs: tuple[Path, Path, Path]) -> None:
    intake, work, quar = dirs
    dests = []
    for i in range(3):
        c = _claim_one(intake, work, f"批次{i}/scan.pdf", f"pdf {i}".encode())
        err = ProcessingTimeoutError("处理超时（超过 600 秒）")
        dests.append(quarantine(c, quarantine_dir=quar, error=err, run_id="r", now=DAY))
    assert [d.name for d in dests] == ["scan.pdf", "scan-2.pdf", "scan-3.pdf"]
    assert [d.read_bytes() for d in dests] == [b"pdf 0", b"pdf 1", b"pdf 2"]
    for i, d in enumerate(dests):
        record = json.loads(record_path_for(d).read_text(encoding="utf-8"))
        assert record["original_relative_path"] == f"批次{i}/scan.pdf"
        assert record["quarantined_file"] == d.name


def test_leftover_record_is_not_overwritten(dirs: tuple[Path, Path, Path]) -> None:
    intake, work, quar = dirs
    day_dir = quar / "corrupt" / "20260309"
    day_dir.mkdir(parents=True)
    (day_dir / "x.png.error.json").write_text('{"reason": "old"}', encoding="utf-8")
    c = _claim_one(intake, work, "x.png", b"png")
    dest = quarantine(c, quarantine_dir=quar, error=CorruptFileError("坏"), run_id="r", now=DAY)
    assert dest.name == "x-2.png"
    assert (day_dir / "x.png.error.json").read_text(encoding="utf-8") == '{"reason": "old"}'


def test_duplicate_by_code_with_pointer_to_existing_document(
    dirs: tuple[Path, Path, Path],
) -> None:
    intake, work, quar = dirs
    c = _claim_one(intake, work, "id.jpg", b"same bytes")
    dest = quarantine(
        c,
        quarantine_dir=quar,
        code=ErrorCode.DUPLICATE,
        run_id="r",
        extra={"existing_document_id": 42, "existing_key": "企业客户/2026/Q1/某公司/x.pdf"},
        now=DAY,
    )
    assert dest.parent.parent.name == "duplicate"
    record = json.loads(record_path_for(dest).read_text(encoding="utf-8"))
    assert record["message"] == "重复文件（已归档）"
    assert record["error_type"] is None
    assert record["extra"]["existing_document_id"] == 42


def test_code_or_error_is_required(dirs: tuple[Path, Path, Path]) -> None:
    intake, work, quar = dirs
    c = _claim_one(intake, work, "a.jpg", b"a")
    with pytest.raises(ValueError):
        quarantine(c, quarantine_dir=quar, run_id="r")
    with pytest.raises(ValueError):
        quarantine(c, quarantine_dir=quar, code="../escape", run_id="r")
    assert c.path.read_bytes() == b"a"


def test_symlink_is_quarantined_as_a_record(dirs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    intake, work, quar = dirs
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside the intake")
    os.symlink(secret, intake / "照片.jpg")
    (cand,) = find_candidates(intake)
    c = claim(cand, work_dir=work, run_id="r")
    err = NotRegularFileError("不是普通文件：符号链接")

    dest = quarantine(c, quarantine_dir=quar, error=err, run_id="r", now=DAY)

    assert dest == quar / "not_regular_file" / "20260309" / "照片.jpg.symlink.txt"
    assert not dest.is_symlink()
    text = dest.read_text(encoding="utf-8")
    assert "kind: symlink" in text and f"link_target: {secret}" in text
    assert "outside the intake" not in text
    assert not os.path.lexists(c.path)
    assert secret.read_bytes() == b"outside the intake"
    record = json.loads(record_path_for(dest).read_text(encoding="utf-8"))
    assert record["kind"] == "symlink" and record["link_target"] == str(secret)
    assert record["sha256"] is None


@pytest.mark.timeout(20)
def test_fifo_path_is_quarantined_without_opening_it(dirs: tuple[Path, Path, Path]) -> None:
    intake, _, quar = dirs
    fifo = intake / "pipe.pdf"
    os.mkfifo(fifo)
    err = NotRegularFileError("不是普通文件：命名管道")
    dest = quarantine(fifo, quarantine_dir=quar, error=err, run_id="r", now=DAY)
    assert dest.name == "pipe.pdf.fifo.txt"
    assert not os.path.lexists(fifo)


def test_plain_path_source(dirs: tuple[Path, Path, Path]) -> None:
    intake, _, quar = dirs
    f = intake / "合同.docx"
    f.write_bytes(b"docx bytes")
    dest = quarantine(f, quarantine_dir=quar, code="unsupported", message="不支持", run_id="r")
    assert dest.read_bytes() == b"docx bytes"
    assert dest.parent.name == datetime.now().strftime("%Y%m%d")
    record = json.loads(record_path_for(dest).read_text(encoding="utf-8"))
    assert record["original_relative_path"] == "合同.docx"
    assert record["sha256"] == hashlib.sha256(b"docx bytes").hexdigest()


def test_quarantine_on_another_filesystem_copies_and_verifies(
    dirs: tuple[Path, Path, Path],
) -> None:
    intake, work, _ = dirs
    shm = Path("/dev/shm")
    # A precondition, not a skip: Linux machines (and CI) have /dev/shm as a separate tmpfs.
    assert shm.is_dir() and shm.stat().st_dev != intake.stat().st_dev, (
        "this test needs /dev/shm on a filesystem other than the temporary folder's"
    )
    data = os.urandom(3_000_000)
    c = _claim_one(intake, work, "big.tif", data)
    with tempfile.TemporaryDirectory(dir=shm) as other:
        dest = quarantine(c, quarantine_dir=other, error=CorruptFileError("坏"), run_id="r")
        assert dest.read_bytes() == data
        assert not c.path.exists()
        assert [p.name for p in dest.parent.iterdir() if p.name.startswith(".")] == []


def test_list_quarantine_reads_entries_back(dirs: tuple[Path, Path, Path]) -> None:
    intake, work, quar = dirs
    old_day = DAY - timedelta(days=20)
    a = quarantine(
        _claim_one(intake, work, "a.jpg", b"a"),
        quarantine_dir=quar,
        error=CorruptFileError("坏图"),
        run_id="r1",
        now=old_day,
    )
    b = quarantine(
        _claim_one(intake, work, "sub/b.pdf", b"b"),
        quarantine_dir=quar,
        code=ErrorCode.ENCRYPTED,
        message="PDF 已加密",
        run_id="r2",
        now=DAY,
    )
    c = quarantine(
        _claim_one(intake, work, "c.png", b"c"),
        quarantine_dir=quar,
        error=CorruptFileError("坏"),
        run_id="r3",
        now=DAY,
    )
    record_path_for(c).unlink()  # a crash between the move and the record
    orphan_dir = quar / "timeout" / "20260101"
    orphan_dir.mkdir(parents=True)
    (orphan_dir / "gone.pdf.error.json").write_text("{}", encoding="utf-8")

    entries = {(e.path or e.record_path).name: e for e in list_quarantine(quar)}  # type: ignore[union-attr]
    assert set(entries) == {"a.jpg", "b.pdf", "c.png", "gone.pdf.error.json"}

    ea = entries["a.jpg"]
    assert (ea.reason, ea.day, ea.path, ea.problem) == (
        "corrupt",
        old_day.strftime("%Y%m%d"),
        a,
        None,
    )
    assert ea.sha256 == hashlib.sha256(b"a").hexdigest() and ea.message == "坏图"
    assert ea.quarantined_at == old_day
    assert round(ea.age_days(now=DAY)) == 20

    eb = entries["b.pdf"]
    assert (eb.reason, eb.original_relative_path, eb.path) == ("encrypted", "sub/b.pdf", b)
    assert entries["c.png"].problem == "record_missing"
    assert entries["gone.pdf.error.json"].problem == "file_missing"

    stale = [e for e in list_quarantine(quar) if e.problem is None and e.age_days(now=DAY) > 14]
    assert [e.path for e in stale] == [a]


def test_list_quarantine_of_missing_folder_is_empty(tmp_path: Path) -> None:
    assert list(list_quarantine(tmp_path / "nowhere")) == []
