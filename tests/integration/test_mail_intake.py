"""E-mail intake against a real Dovecot: attachments handed in to the intake, then the message
marked; bad input refused with a reason and never read again; a dropped connection or a crash
before marking re-delivers, and the intake files the file once."""

from __future__ import annotations

import base64
import json
import logging
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path

import pytest

from config import Settings
from ingest.intake.sidecar import sidecar_path
from ingest.mailbox import fetch_mailbox, file_message
from ingest.mailbox.imap import ImapMailbox
from tests.fixtures.dovecot import PASSWORD, CuttingProxy, Dovecot

pytest_plugins = ["tests.fixtures.dovecot", "tests.fixtures.ingest"]

PDF = b"%PDF-1.4\n% test attachment\n" + b"0" * 2000 + b"\n%%EOF\n"


def message(
    *,
    sender: str = "张三 <zhang@partner.example>",
    subject: str = "营业执照扫描件",
    files: list[tuple[str, bytes]] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "intake@dossier.example"
    msg["Subject"] = subject
    msg.set_content("请查收附件。")
    for name, data in files if files is not None else [("执照.pdf", PDF)]:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def intake_files(settings: Settings) -> dict[str, bytes]:
    folder = Path(settings.intake_dir)  # type: ignore[arg-type]
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


def test_attachments_are_dropped_with_sender_and_subject_then_marked(
    dovecot: Dovecot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    dovecot.append(message(files=[("执照.pdf", PDF), ("合同.pdf", PDF + b"2")]))
    report = fetch_mailbox(dovecot.mailbox(), settings=settings)

    assert report.error is None
    [outcome] = report.messages
    assert outcome.outcome == "filed"
    assert sorted(outcome.files) == ["合同.pdf", "执照.pdf"]
    assert intake_files(settings)["执照.pdf"] == PDF
    side = json.loads(sidecar_path(Path(settings.intake_dir) / "执照.pdf").read_text())  # type: ignore[arg-type]
    assert side["submitted_by"] == "zhang@partner.example"
    assert side["note"] == "营业执照扫描件"
    [flags] = dovecot.flags().values()
    assert {"dossier-filed", "\\Seen"} <= flags and "dossier-refused" not in flags
    # marked: the next run reads nothing
    assert fetch_mailbox(dovecot.mailbox(), settings=settings).messages == []
    assert len(intake_files(settings)) == 2


def test_a_processed_folder_receives_handled_messages(
    dovecot: Dovecot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    dovecot.append(message())
    report = fetch_mailbox(dovecot.mailbox(processed_folder="已归档"), settings=settings)
    assert [m.outcome for m in report.messages] == ["filed"]
    assert dovecot.flags() == {}
    [flags] = dovecot.flags("已归档").values()
    assert "dossier-filed" in flags


def test_encoded_attachment_names_are_decoded(
    dovecot: Dovecot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    gbk_b64 = base64.b64encode("身份证.pdf".encode("gbk")).decode()
    pct_utf8 = "".join(f"%{b:02X}" for b in "营业执照 副本.pdf".encode())
    pct_gbk = "".join(f"%{b:02X}" for b in "开户许可证.pdf".encode("gbk"))
    parts = [
        f'Content-Disposition: attachment; filename="=?gbk?B?{gbk_b64}?="'.encode(),
        f"Content-Disposition: attachment; filename*=utf-8''{pct_utf8}".encode(),
        f"Content-Disposition: attachment; filename*=gbk''{pct_gbk}".encode(),
        b'Content-Disposition: attachment; filename="' + "合同.pdf".encode("gbk") + b'"',
        b'Content-Disposition: attachment; filename="../../etc/passwd"',
    ]
    body = b"".join(
        b"--B\r\nContent-Type: application/pdf\r\n" + header + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(PDF + bytes([i]))
        + b"\r\n"
        for i, header in enumerate(parts)
    )
    raw = (
        b"From: a@partner.example\r\nSubject: names\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n' + body + b"--B--\r\n"
    )
    dovecot.append(raw)
    [outcome] = fetch_mailbox(dovecot.mailbox(), settings=settings).messages
    assert sorted(outcome.files) == sorted(
        ["身份证.pdf", "营业执照 副本.pdf", "开户许可证.pdf", "合同.pdf", "_.._etc_passwd"]
    )
    assert set(intake_files(settings)) == set(outcome.files)


def test_fifty_attachments_all_arrive(
    dovecot: Dovecot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    files = [(f"扫描{i:02d}.pdf", PDF + str(i).encode()) for i in range(50)]
    dovecot.append(message(files=files))
    [outcome] = fetch_mailbox(dovecot.mailbox(), settings=settings).messages
    assert outcome.outcome == "filed"
    assert intake_files(settings) == dict(files)


def test_an_attachment_over_the_size_limit_is_refused_and_not_retried(
    dovecot: Dovecot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(max_file_mb=1)
    big = b"%PDF-1.4\n" + b"x" * (1024 * 1024 + 10)
    dovecot.append(message(files=[("大文件.pdf", big)]))
    dovecot.append(message(files=[("小文件.pdf", PDF), ("大文件.pdf", big)]))
    report = fetch_mailbox(dovecot.mailbox(), settings=settings)

    assert [m.outcome for m in report.messages] == ["refused", "partial"]
    assert [r["reason"] for r in report.messages[0].refusals] == ["too_large"]
    assert "超过上限" in str(report.messages[0].refusals[0]["message"])
    assert set(intake_files(settings)) == {"小文件.pdf"}
    flags = dovecot.flags()
    assert {"dossier-refused", "dossier-too-large"} <= flags[1]
    assert {"dossier-filed", "dossier-refused", "dossier-too-large"} <= flags[2]
    assert fetch_mailbox(dovecot.mailbox(), settings=settings).messages == []


def test_a_message_over_the_message_limit_is_refused_unread(
    dovecot: Dovecot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    dovecot.append(message(files=[("大.pdf", b"y" * (1024 * 1024 + 10))]))
    [outcome] = fetch_mailbox(dovecot.mailbox(max_message_mb=1), settings=settings).messages
    assert outcome.outcome == "refused" and outcome.sender is None  # never read
    assert outcome.refusals[0]["reason"] == "too_large"
    assert intake_files(settings) == {}


def test_a_zip_is_refused_not_unpacked(
    dovecot: Dovecot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../evil.pdf", PDF)
    dovecot.append(message(files=[("资料.zip", buf.getvalue())]))
    [outcome] = fetch_mailbox(dovecot.mailbox(), settings=settings).messages
    assert outcome.outcome == "refused"
    assert [(r["reason"], r["name"]) for r in outcome.refusals] == [("archive", "资料.zip")]
    assert intake_files(settings) == {}
    assert {"dossier-refused", "dossier-archive"} <= dovecot.flags()[1]


def test_malformed_mime_is_refused_and_the_next_message_still_filed(
    dovecot: Dovecot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    dovecot.append(
        b"From: a@partner.example\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed\r\n\r\n--nothing\r\nContent-Type: application/pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n%%%not base64\r\n"
    )
    dovecot.append(message())
    report = fetch_mailbox(dovecot.mailbox(), settings=settings)
    assert [m.outcome for m in report.messages] == ["refused", "filed"]
    assert report.messages[0].refusals[0]["reason"] == "malformed"
    assert {"dossier-refused", "dossier-malformed"} <= dovecot.flags()[1]


def test_sender_allow_list_subject_pattern_and_name_rules(
    dovecot: Dovecot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    mailbox = dovecot.mailbox(
        allowed_senders=["@partner.example", "Boss@Example.com"],
        subject_pattern=r"执照|资料",
        include_names=["*.pdf", "*.JPG"],
        exclude_names=["*草稿*"],
    )
    dovecot.append(message(sender="x@stranger.example"))
    dovecot.append(message(sender="boss@example.com", subject="午饭"))
    dovecot.append(
        message(
            sender="boss@example.com",
            subject="客户资料",
            files=[("a.pdf", PDF), ("b.docx", b"doc"), ("草稿.pdf", PDF + b"d"), ("c.jpg", b"j")],
        )
    )
    report = fetch_mailbox(mailbox, settings=settings)
    assert [m.outcome for m in report.messages] == ["refused", "refused", "filed"]
    assert [m.refusals[0]["reason"] for m in report.messages[:2]] == ["sender", "subject"]
    assert sorted(report.messages[2].files) == ["a.pdf", "c.jpg"]
    assert sorted(report.messages[2].ignored) == ["b.docx", "草稿.pdf"]


def test_small_inline_images_are_ignored(
    dovecot: Dovecot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    msg = EmailMessage()
    msg["From"] = "a@partner.example"
    msg["Subject"] = "photo"
    msg.set_content("<p>logo <img src='cid:logo'></p>", subtype="html")
    msg.add_related(b"\x89PNG" + b"l" * 100, maintype="image", subtype="png", cid="<logo>")
    msg.add_attachment(
        b"\xff\xd8" + b"p" * 30_000,
        maintype="image",
        subtype="jpeg",
        filename="photo.jpg",
        disposition="inline",
    )
    dovecot.append(msg.as_bytes())
    [outcome] = fetch_mailbox(dovecot.mailbox(), settings=settings).messages
    assert outcome.files == ["photo.jpg"]
    assert len(outcome.ignored) == 1


def test_a_server_dropping_mid_fetch_marks_nothing_and_the_next_run_files(
    dovecot: Dovecot, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    dovecot.append(message(files=[("大.pdf", PDF * 200)]))
    caplog.set_level(logging.DEBUG)
    with CuttingProxy((dovecot.host, dovecot.port), cut_after=20_000) as proxy:
        report = fetch_mailbox(dovecot.mailbox(port=proxy.port), settings=settings)
    assert proxy.cuts >= 1
    assert report.error is not None and report.error["code"] == "mailbox_unavailable"
    assert report.messages == []
    assert intake_files(settings) == {}
    assert all("dossier-filed" not in f for f in dovecot.flags().values())
    again = fetch_mailbox(dovecot.mailbox(), settings=settings)
    assert [m.outcome for m in again.messages] == ["filed"]
    assert PASSWORD not in caplog.text and PASSWORD not in json.dumps(report.as_dict())


def test_a_wrong_password_is_an_error_without_the_password(
    dovecot: Dovecot, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    report = fetch_mailbox(dovecot.mailbox(password_file=wrong), settings=make_settings())
    assert report.error is not None and report.error["code"] == "mailbox_unavailable"
    assert "not-the-password" not in json.dumps(report.as_dict())
    missing = fetch_mailbox(
        dovecot.mailbox(password_file=None, password_env="DOSSIER_TEST_UNSET_PASSWORD"),
        settings=make_settings(),
    )
    assert missing.error is not None and missing.error["code"] == "configuration"


def test_a_crash_between_drop_and_mark_redelivers_and_the_intake_files_once(
    dovecot: Dovecot,
    make_settings: Callable[..., Settings],
    sqlite_engine,  # noqa: ANN001
    local_store,  # noqa: ANN001
    ingest_services,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    from app.intake_pass import run_pass
    from bench.samples import generate, write_sample

    settings = make_settings(workers=1)
    scan = write_sample(generate("business_license", seed=7), tmp_path / "scan.png").read_bytes()
    dovecot.append(message(files=[("执照.png", scan)]))
    mailbox = dovecot.mailbox()
    # the first run hands the file in and dies before marking (no mark is ever sent)
    with ImapMailbox(mailbox, password=PASSWORD, timeout=10) as imap:
        [uid] = imap.new_uids()
        file_message(imap.fetch(uid), uid=uid, mailbox=mailbox, settings=settings)
    assert "dossier-filed" not in dovecot.flags()[1]
    # the next run reads it again
    [outcome] = fetch_mailbox(mailbox, settings=settings).messages
    assert outcome.files == ["执照-2.png"]
    services = ingest_services(engine=sqlite_engine, store=local_store, settings=settings)
    report = run_pass(services, settle=False)
    kinds = sorted(o.kind for o in report.outcomes)
    assert len(kinds) == 2 and kinds.count("duplicate") == 1, kinds
    assert sum(len(o.documents) for o in report.outcomes) == 1
