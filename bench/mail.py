"""Benchmark: e-mail intake of N messages (issue 13): messages per minute.

Run by hand (not a test): ``.venv/bin/python -m bench.mail [--messages 100] [--kb 200]``.
Starts a throw-away Dovecot (as the tests do: ``dovecot-imapd``, unprivileged, 127.0.0.1),
delivers N messages with one PDF attachment of the given size each, then times one
:func:`ingest.mailbox.fetch_mailbox` pass into a temporary intake; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from config import load_settings
from ingest.mailbox import fetch_mailbox
from tests.fixtures.dovecot import running_dovecot


def _message(n: int, size: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"sender{n % 7}@partner.example"
    msg["Subject"] = f"客户资料 {n}"
    msg.set_content("请查收附件。")
    data = b"%PDF-1.4\n" + (f"{n:08d}".encode() * (size // 8 + 1))[:size]
    msg.add_attachment(data, maintype="application", subtype="pdf", filename=f"扫描件{n}.pdf")
    return msg.as_bytes()


def run(messages: int, kb: int) -> dict[str, object]:
    with running_dovecot() as server, tempfile.TemporaryDirectory() as home:
        imap = server.client()
        try:
            for n in range(messages):
                imap.append("INBOX", None, None, _message(n, kb * 1024))
        finally:
            imap.logout()
        settings = load_settings(home=Path(home))
        settings.ensure_dirs()
        started = time.perf_counter()
        report = fetch_mailbox(server.mailbox(), settings=settings)
        seconds = time.perf_counter() - started
    filed = sum(1 for m in report.messages if m.outcome == "filed")
    return {
        "bench": "mail_intake",
        "messages": messages,
        "attachment_kb": kb,
        "filed": filed,
        "error": report.error,
        "seconds": round(seconds, 3),
        "messages_per_minute": round(filed / seconds * 60, 1) if seconds else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--kb", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(run(args.messages, args.kb), ensure_ascii=False))


if __name__ == "__main__":
    main()
