"""Channels dropping into the shared S3 intake (app.intake_drop) and the puller restoring what
they said (app.s3_intake): the signed companion sidecar is written before the file, the puller
hands the file in with its submitter, hints and sub-folder; a forged, unsigned or misplaced
sidecar files the object as an anonymous ``s3:<key>`` submission with the reason in its note;
a sidecar whose file never came is ignored and swept after the claim timeout. Real S3 protocol
(the moto server over HTTP), SQLite and PostgreSQL, a real Dovecot for the e-mail intake."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from app.intake_drop import SIDECAR_DIR, hand_in, mail_drop, sidecar_key
from app.s3_intake import PullReport, pull_s3_intake
from config import Settings, load_settings
from ingest.intake.sidecar import DropRecord, read_sidecar
from ingest.intake.signed_sidecar import sign_sidecar
from ingest.mailbox import fetch_mailbox
from tests.fixtures.dovecot import Dovecot
from tests.fixtures.s3 import TEST_REGION
from tests.integration.test_mail_intake import PDF, message

pytest_plugins = ["tests.fixtures.dovecot"]

PREFIX = "intake"
KEY_VAR = "DOSSIER_INTAKE_TEST_HMAC"  # not a setting name: no DOSSIER_ field matches it
SECRET = "shared-intake-key-0123456789"


@pytest.fixture
def machine(
    tmp_path: Path,
    db_url: str,
    s3_bucket: str,
    s3_endpoint_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Settings]:
    """Settings of one machine (web or worker): its own home, the shared DB and S3 prefix."""
    monkeypatch.setenv(KEY_VAR, SECRET)

    def build(name: str, **overrides: Any) -> Settings:
        values = {
            "home": tmp_path / name,
            "database_url": db_url,
            "intake_s3_url": f"s3://{s3_bucket}/{PREFIX}/",
            "s3_endpoint_url": s3_endpoint_url,
            "s3_region": TEST_REGION,
            "intake_s3_secret_env": KEY_VAR,
            **overrides,
        }
        settings = load_settings(**values)
        settings.ensure_dirs()
        return settings

    return build


def _keys(s3_client: Any, bucket: str) -> list[str]:
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/")
    return sorted(o["Key"].removeprefix(f"{PREFIX}/") for o in listing.get("Contents", ()))


def _pull(settings: Settings, engine: Engine) -> PullReport:
    report = pull_s3_intake(settings=settings, engine=engine, worker="w1", batch=100)
    assert report is not None and report.error is None, report
    return report


def _dropped(settings: Settings) -> dict[str, DropRecord]:
    """Every file in the worker's local intake (any sub-folder) with its local sidecar."""
    found = {}
    for path in Path(settings.intake_dir or "").rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            record = read_sidecar(path, sha256=digest)
            assert record is not None, path
            found[str(path.relative_to(settings.intake_dir or ""))] = record
    return found


def test_signed_drop_is_restored_with_its_submitter_hints_and_folder(
    engine: Engine, machine: Callable[..., Settings], s3_client: Any, s3_bucket: str
) -> None:
    web, worker = machine("web"), machine("worker")
    dropped = hand_in(
        PDF, "营业执照.pdf", settings=web, folder="sales1", submitted_by="sales1",
        customer_code="C0001", document_type="contract", upload_id="u-1",
    )  # fmt: skip
    key = dropped.stored.removeprefix("s3:")
    assert dropped.stored.startswith("s3:sales1/") and dropped.name == "营业执照.pdf"
    assert _keys(s3_client, s3_bucket) == sorted([key, sidecar_key(key)])
    assert not any(Path(web.intake_dir or "").rglob("*.pdf"))  # nothing in the web's intake
    side = json.loads(
        s3_client.get_object(Bucket=s3_bucket, Key=f"{PREFIX}/{sidecar_key(key)}")["Body"].read()
    )
    assert side["upload_id"] == "u-1" and len(side["signature"]) == 64

    report = _pull(worker, engine)
    assert report.counts() == {"pulled": 1}
    [(where, record)] = _dropped(worker).items()
    assert where == "sales1/营业执照.pdf"
    assert (record.submitted_by, record.customer_code, record.document_type) == (
        "sales1", "C0001", "contract",
    )  # fmt: skip
    # Both stay in S3 until the file is filed or quarantined (then the object, then its
    # sidecar go: tests/e2e/test_api_s3_intake.py follows an upload to the end).
    assert _keys(s3_client, s3_bucket) == sorted([key, sidecar_key(key)])


@pytest.mark.parametrize("forgery", ["wrong_key", "unsigned", "other_bytes", "garbage"])
def test_forged_sidecar_files_the_object_anonymously_with_the_reason(
    engine: Engine,
    machine: Callable[..., Settings],
    s3_client: Any,
    s3_bucket: str,
    forgery: str,
) -> None:
    worker = machine("worker")
    key = "x/evil/扫描.pdf"
    record = DropRecord("扫描.pdf", hashlib.sha256(PDF).hexdigest(), len(PDF), "admin", "now",
                        customer_code="C0002")  # fmt: skip
    secret = {"wrong_key": b"guessed", "unsigned": None}.get(forgery, SECRET.encode())
    if forgery == "other_bytes":
        record = DropRecord("扫描.pdf", "0" * 64, len(PDF), "admin", "now")
    body = sign_sidecar(record, key=key, folder="admin", secret=secret)
    if forgery == "garbage":
        body = b"{not json"
    s3_client.put_object(Bucket=s3_bucket, Key=f"{PREFIX}/{sidecar_key(key)}", Body=body)
    s3_client.put_object(Bucket=s3_bucket, Key=f"{PREFIX}/{key}", Body=PDF)

    assert _pull(worker, engine).counts() == {"pulled": 1}
    [(where, dropped)] = _dropped(worker).items()
    assert where == "扫描.pdf"  # not in admin's folder
    assert dropped.submitted_by == f"s3:{key}" and dropped.customer_code is None
    assert dropped.note is not None and "已按匿名提交处理" in dropped.note
    expected = {
        "wrong_key": "签名无效",
        "unsigned": "没有签名",
        "other_bytes": "不属于这个文件",
        "garbage": "无法读取",
    }[forgery]
    assert expected in dropped.note, dropped.note
    assert key in _keys(s3_client, s3_bucket)  # kept until the file is filed


def test_plain_object_without_sidecar_stays_an_s3_submission(
    engine: Engine, machine: Callable[..., Settings], s3_client: Any, s3_bucket: str
) -> None:
    worker = machine("worker")
    s3_client.put_object(Bucket=s3_bucket, Key=f"{PREFIX}/scanner/a.pdf", Body=PDF)
    _pull(worker, engine)
    [(where, dropped)] = _dropped(worker).items()
    assert dropped.submitted_by == "s3:scanner/a.pdf" and dropped.note == "S3 收件：scanner/a.pdf"


def test_sidecar_without_its_file_is_ignored_then_swept_after_the_timeout(
    engine: Engine, machine: Callable[..., Settings], s3_client: Any, s3_bucket: str
) -> None:
    """A crash between writing the sidecar and the file (the web process killed there)."""
    web = machine("web")
    worker = machine("worker", intake_s3_claim_timeout_seconds=2)
    dropped = hand_in(PDF, "a.pdf", settings=web, folder="sales1", submitted_by="sales1")
    key = dropped.stored.removeprefix("s3:")
    s3_client.delete_object(Bucket=s3_bucket, Key=f"{PREFIX}/{key}")  # as if never written
    assert _keys(s3_client, s3_bucket) == [sidecar_key(key)]

    assert _pull(worker, engine).counts() == {}  # a sidecar is never pulled as a file
    assert _keys(s3_client, s3_bucket) == [sidecar_key(key)]  # young: an upload may be under way
    time.sleep(3)
    assert _pull(worker, engine).counts() == {}
    assert _keys(s3_client, s3_bucket) == []
    assert _dropped(worker) == {}


def test_upload_cut_off_before_its_end_leaves_nothing_in_s3(
    machine: Callable[..., Settings], s3_client: Any, s3_bucket: str
) -> None:
    web = machine("web")

    class CutOff(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise OSError("connection reset by the uploader")

    with pytest.raises(OSError):
        hand_in(CutOff(), "a.pdf", settings=web, folder="sales1", submitted_by="sales1")
    assert _keys(s3_client, s3_bucket) == []


def test_mail_intake_drops_into_the_s3_intake_with_sender_and_subject(
    engine: Engine,
    machine: Callable[..., Settings],
    dovecot: Dovecot,
    s3_client: Any,
    s3_bucket: str,
) -> None:
    mail, worker = machine("mail"), machine("worker")
    dovecot.append(message(files=[("执照.pdf", PDF)]))
    report = fetch_mailbox(dovecot.mailbox(), settings=mail, drop=mail_drop(mail))
    assert report.error is None and report.messages[0].files == ["执照.pdf"]
    assert not any(p.is_file() for p in Path(mail.intake_dir or "").rglob("*"))
    keys = _keys(s3_client, s3_bucket)
    assert len(keys) == 2 and sum(k.startswith(f"{SIDECAR_DIR}/") for k in keys) == 1
    [flags] = dovecot.flags().values()
    assert "dossier-filed" in flags

    _pull(worker, engine)
    [(where, dropped)] = _dropped(worker).items()
    assert where == "执照.pdf"
    assert (dropped.submitted_by, dropped.note) == ("zhang@partner.example", "营业执照扫描件")
    assert _keys(s3_client, s3_bucket) == keys  # kept until the file is filed
