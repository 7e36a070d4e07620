"""The mail clients really use TLS: SMTP with STARTTLS and SMTP over TLS (aiosmtpd's controller
with a self-signed certificate made by the fixture) and IMAP with TLS and STARTTLS (Dovecot
with ``ssl = required``).

Each server refuses to work in the clear (aiosmtpd ``require_starttls``; Dovecot
``disable_plaintext_auth``), the server side records the TLS version of the session, and a
client that does not trust the certificate refuses to talk: verification is on. The clients
trust the test certificate only through ``SSL_CERT_FILE``, as an operator would a company CA.
"""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from app.errors import NotificationError
from app.notify import send_email
from config import Settings, load_settings
from ingest.mailbox import fetch_mailbox
from ingest.mailbox.imap import ImapMailbox
from tests.fixtures.dovecot import PASSWORD, Dovecot, free_port, running_dovecot
from tests.fixtures.tls import TlsFiles, self_signed
from tests.integration.test_mail_intake import PDF, message

pytest_plugins = ["tests.fixtures.ingest"]
pytestmark = pytest.mark.timeout(300)


class TlsInbox:
    """aiosmtpd handler keeping each message with the TLS version it came over (None: clear)."""

    def __init__(self) -> None:
        self.received: list[tuple[str | None, Any]] = []

    async def handle_DATA(self, server: Any, session: object, envelope: Any) -> str:  # noqa: N802
        tls = server.transport.get_extra_info("ssl_object")
        message = message_from_bytes(envelope.content, policy=default_policy)
        self.received.append((tls.version() if tls is not None else None, message))
        return "250 OK"


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    return self_signed(tmp_path / "tls")


@pytest.fixture
def trusted(tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> TlsFiles:
    """Clients trust the test certificate (and, from here on, nothing else)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return tls_files


@pytest.fixture
def smtp_server(tls_files: TlsFiles) -> Iterator[Callable[[str], tuple[int, TlsInbox]]]:
    """``start(mode)``: an SMTP server on a free port, ``starttls`` (required) or ``tls``."""
    running: list[Controller] = []

    def start(mode: str) -> tuple[int, TlsInbox]:
        inbox, port = TlsInbox(), free_port()
        context = tls_files.server_context()
        if mode == "starttls":
            controller = Controller(inbox, hostname="127.0.0.1", port=port,
                                    tls_context=context, require_starttls=True)  # fmt: skip
        else:
            controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context)
        controller.start()
        running.append(controller)
        return port, inbox

    try:
        yield start
    finally:
        for controller in running:
            controller.stop()


def _smtp_settings(tmp_path: Path, port: int, mode: str) -> Settings:
    return load_settings(home=tmp_path / "home", smtp_host="127.0.0.1", smtp_port=port,
                         smtp_tls=mode, notify_timeout_seconds=5)  # fmt: skip


def _send(settings: Settings) -> None:
    send_email(settings, to="sales@example.com", subject="【测试】加密发送", body="正文")


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_smtp_client_sends_over_verified_tls(
    mode: str, smtp_server: Callable[[str], tuple[int, TlsInbox]], trusted: TlsFiles,
    tmp_path: Path,
) -> None:  # fmt: skip
    port, inbox = smtp_server(mode)
    _send(_smtp_settings(tmp_path, port, mode))
    [(version, mail)] = inbox.received
    assert version in {"TLSv1.2", "TLSv1.3"}, version
    assert mail["Subject"] == "【测试】加密发送" and mail["To"] == "sales@example.com"


def test_smtp_server_refuses_the_clear_and_an_untrusted_certificate(
    smtp_server: Callable[[str], tuple[int, TlsInbox]],
    tls_files: TlsFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, inbox = smtp_server("starttls")
    with pytest.raises(NotificationError, match="邮件发送失败"):  # 530: STARTTLS first
        _send(_smtp_settings(tmp_path, port, "off"))
    other = self_signed(tmp_path / "other", name="someone-else")
    monkeypatch.setenv("SSL_CERT_FILE", str(other.cert))  # trusts a different certificate
    with pytest.raises(NotificationError) as refused:
        _send(_smtp_settings(tmp_path, port, "starttls"))
    assert isinstance(refused.value.__cause__, ssl.SSLCertVerificationError)
    assert inbox.received == []


@pytest.fixture
def tls_dovecot(tls_files: TlsFiles) -> Iterator[Dovecot]:
    with running_dovecot(tls=tls_files) as server:
        yield server


@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_imap_intake_reads_over_verified_tls(
    mode: str, tls_dovecot: Dovecot, trusted: TlsFiles, make_settings: Callable[..., Settings]
) -> None:
    server = tls_dovecot
    server.append(message(files=[("执照.pdf", PDF)]))
    port = server.tls_port if mode == "tls" else server.port
    report = fetch_mailbox(server.mailbox(tls=mode, port=port), settings=make_settings())
    assert report.error is None, report.error
    [outcome] = report.messages
    assert outcome.outcome == "filed" and outcome.files == ["执照.pdf"]
    logins = [line for line in server.log_text().splitlines() if "Login: user=<intake>" in line]
    # the fixture's own APPEND used imaps too: every login of the test user was encrypted
    assert logins and all(", TLS," in line for line in logins), logins


def test_imap_server_refuses_the_clear_and_an_untrusted_certificate(
    tls_dovecot: Dovecot, tls_files: TlsFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = tls_dovecot
    clear = server.mailbox(tls="off")
    with (
        pytest.raises(Exception, match="连接或登录失败") as plain,
        ImapMailbox(clear, password=PASSWORD, timeout=10),
    ):
        pass
    assert isinstance(plain.value.__cause__, imaplib.IMAP4.error)  # refused, not unreachable
    assert not [line for line in server.log_text().splitlines() if "Login: user=" in line]
    other = self_signed(tmp_path / "other", name="someone-else")
    monkeypatch.setenv("SSL_CERT_FILE", str(other.cert))
    with (
        pytest.raises(Exception, match="连接或登录失败") as untrusted,
        ImapMailbox(server.mailbox(tls="tls", port=server.tls_port), password=PASSWORD, timeout=10),
    ):
        pass
    assert isinstance(untrusted.value.__cause__, ssl.SSLCertVerificationError)
