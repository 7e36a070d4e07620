"""``dossier mail fetch`` as a real process against a real Dovecot, configured by dossier.toml
(``[[mailboxes]]``) with the password in an environment variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.fixtures.dovecot import PASSWORD, USER, Dovecot

pytest_plugins = ["tests.fixtures.dovecot"]

REPO = Path(__file__).resolve().parents[2]
DOSSIER = Path(sys.executable).with_name("dossier")


def run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    environ |= {"PYTHONPATH": str(REPO), "DOSSIER_HOME": str(home), "COLUMNS": "200"} | env
    return subprocess.run(
        [str(DOSSIER), *args], cwd=home, env=environ, capture_output=True, text=True, timeout=120
    )


def write_config(home: Path, dovecot: Dovecot) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dossier.toml").write_text(
        f"""
[[mailboxes]]
name = "业务邮箱"
host = "{dovecot.host}"
port = {dovecot.port}
tls = "off"
user = "{USER}"
password_env = "DOSSIER_TEST_MAIL_PASSWORD"
allowed_senders = ["@partner.example"]
""",
        encoding="utf-8",
    )


def test_mail_fetch_json_hands_attachments_in(dovecot: Dovecot, tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home, dovecot)
    msg = EmailMessage()
    msg["From"] = "li@partner.example"
    msg["Subject"] = "身份证"
    msg.set_content("附件")
    msg.add_attachment(
        b"%PDF-1.4\nx\n", maintype="application", subtype="pdf", filename="身份证.pdf"
    )
    dovecot.append(msg.as_bytes())

    result = run(["mail", "fetch", "--json"], home, DOSSIER_TEST_MAIL_PASSWORD=PASSWORD)
    assert result.returncode == 0, result.stderr
    [report] = json.loads(result.stdout)
    assert report["mailbox"] == "业务邮箱" and report["error"] is None
    assert [(m["outcome"], m["files"]) for m in report["messages"]] == [("filed", ["身份证.pdf"])]
    assert (home / "intake" / "身份证.pdf").read_bytes() == b"%PDF-1.4\nx\n"
    assert PASSWORD not in result.stdout + result.stderr

    again = run(["mail", "fetch"], home, DOSSIER_TEST_MAIL_PASSWORD=PASSWORD)
    assert again.returncode == 0, again.stderr
    assert "0 封新邮件" in again.stdout


def test_mail_fetch_without_the_password_exits_1_with_a_reason(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    write_config(home, dovecot)
    result = run(["mail", "fetch", "--json"], home)
    assert result.returncode == 1, result.stderr
    [report] = json.loads(result.stdout)
    assert report["error"]["code"] == "configuration"
    assert "DOSSIER_TEST_MAIL_PASSWORD" in report["error"]["message"]


def test_mail_fetch_without_mailboxes_is_a_configuration_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = run(["mail", "fetch"], home)
    assert result.returncode == 2, result.stderr
    assert "mailboxes" in result.stderr and "Traceback" not in result.stderr


def test_the_flow_reads_the_mailboxes_of_the_settings(
    dovecot: Dovecot, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.mail import fetch_mail

    mailbox = {
        "host": dovecot.host,
        "port": dovecot.port,
        "tls": "off",
        "user": USER,
        "password_file": str(dovecot.password_file),
    }
    monkeypatch.setenv("DOSSIER_MAILBOXES", json.dumps([mailbox]))
    msg = EmailMessage()
    msg["From"] = "li@partner.example"
    msg["Subject"] = "合同"
    msg.set_content("附件")
    msg.add_attachment(b"contract", maintype="application", subtype="pdf", filename="合同.pdf")
    dovecot.append(msg.as_bytes())

    [report] = fetch_mail.fn()
    assert report["error"] is None
    assert [m["files"] for m in report["messages"]] == [["合同.pdf"]]  # type: ignore[index]
    assert (tmp_home / "intake" / "合同.pdf").read_bytes() == b"contract"
