"""Mailbox settings (TOML, environment, refusals) and the reading of one e-mail, no server."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from config import load_settings
from config.errors import ConfigError
from config.mail import MailboxSettings, mailbox_password
from ingest.mailbox.imap import imap_utf7
from ingest.mailbox.message import read_message


def test_mailboxes_from_toml_and_environment(
    tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_home.parent / "dossier.toml"
    config.write_text(
        '[[mailboxes]]\nhost = "imap.example.com"\nuser = "scans"\npassword_env = "X_PW"\n'
        '[[mailboxes]]\nhost = "mail.example.com"\nuser = "b"\ntls = "starttls"\n'
        'password_file = "pw.txt"\nallowed_senders = [" Boss@Example.COM "]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("DOSSIER_CONFIG", str(config))
    first, second = load_settings().mailboxes
    assert (first.name, first.port, first.tls, first.folder) == (
        "scans@imap.example.com",
        993,
        "tls",
        "INBOX",
    )
    assert (second.port, second.allowed_senders) == (143, ["boss@example.com"])
    monkeypatch.delenv("DOSSIER_CONFIG")
    monkeypatch.setenv(
        "DOSSIER_MAILBOXES", '[{"host": "h", "user": "u", "password_env": "P", "port": 1143}]'
    )
    [from_env] = load_settings().mailboxes
    assert from_env.port == 1143


@pytest.mark.parametrize(
    "values",
    [
        {"host": "h", "user": "u"},  # no password source
        {"host": "h", "user": "u", "password_env": "P", "password_file": "f"},  # two
        {"host": "h", "user": "u", "password_env": "P", "subject_pattern": "("},
        {"host": "h", "user": "u", "password_env": "P", "processed_keyword": "has space"},
        {"host": "h", "user": "u", "password_env": "P", "tls": "maybe"},
    ],
)
def test_bad_mailbox_settings_are_configuration_errors(
    tmp_home: Path, values: dict[str, object]
) -> None:
    with pytest.raises(ConfigError):
        load_settings(mailboxes=[values])


def test_the_password_comes_from_the_environment_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("X_MAIL_PW", "from-env")
    assert mailbox_password(MailboxSettings(host="h", user="u", password_env="X_MAIL_PW")) == (
        "from-env"
    )
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    assert mailbox_password(MailboxSettings(host="h", user="u", password_file=secret)) == (
        "from-file"
    )
    monkeypatch.delenv("X_MAIL_PW")
    with pytest.raises(ConfigError) as e:
        mailbox_password(MailboxSettings(host="h", user="u", password_env="X_MAIL_PW"))
    assert "X_MAIL_PW" in e.value.message


def test_folder_names_in_modified_utf7() -> None:
    # RFC 3501 5.1.3's own example and the ampersand rule
    assert imap_utf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert imap_utf7("A&B") == "A&-B"


RULES = MailboxSettings(host="h", user="u", password_env="P")


def test_a_message_without_attachments_is_refused_with_a_reason() -> None:
    msg = EmailMessage()
    msg["From"] = "a@b.example"
    msg["Subject"] = "=?gbk?B?1tDOxA==?="  # 中文 in GBK
    msg.set_content("no files")
    read = read_message(msg.as_bytes(), rules=RULES, max_file_bytes=10)
    assert read.subject == "中文"
    assert [r.reason for r in read.refusals] == ["no_attachment"]


def test_garbage_bytes_do_not_raise() -> None:
    read = read_message(b"\xff\xfe\x00garbage\r\n\r\n\x00", rules=RULES, max_file_bytes=10)
    assert read.attachments == [] and len(read.refusals) == 1
