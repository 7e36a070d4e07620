"""The IMAP conversation, with the standard ``imaplib``: connect, list new messages, read one,
mark one. Every failure of the server or the connection becomes
:class:`~ingest.errors.MailboxUnavailableError`; the password never appears in a message.

Messages are read with ``BODY.PEEK[]`` (the \\Seen flag is not set by reading) and listed by
the keywords they lack, so a message is new until :meth:`ImapMailbox.mark` says otherwise.
"""

from __future__ import annotations

import base64
import imaplib
import re
import socket
import ssl
from types import TracebackType

from config.mail import MailboxSettings
from ingest.errors import MailboxUnavailableError

_FAILURES = (imaplib.IMAP4.error, OSError, socket.timeout, ssl.SSLError, EOFError)
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapMailbox:
    """An open, logged-in IMAP session on one mailbox's folder (a context manager)."""

    def __init__(self, mailbox: MailboxSettings, *, password: str, timeout: float) -> None:
        self.mailbox = mailbox
        self._password = password
        self._timeout = timeout
        self._imap: imaplib.IMAP4 | None = None

    def __enter__(self) -> ImapMailbox:
        mb = self.mailbox
        try:
            if mb.tls == "tls":
                context = ssl.create_default_context()
                imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    mb.host, mb.port or 993, ssl_context=context, timeout=self._timeout
                )
            else:
                imap = imaplib.IMAP4(mb.host, mb.port or 143, timeout=self._timeout)
                if mb.tls == "starttls":
                    imap.starttls(ssl.create_default_context())
            self._imap = imap
            imap.login(mb.user, self._password)
            self._ok(imap.select(_quoted(mb.folder)), "select")
            if mb.processed_folder:
                imap.create(_quoted(mb.processed_folder))  # NO when it exists: fine
        except MailboxUnavailableError:
            self.close()
            raise
        except _FAILURES as e:
            self.close()
            raise self._unavailable("连接或登录失败", e) from e
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._imap is None:
            return
        imap, self._imap = self._imap, None
        try:
            imap.logout()
        except _FAILURES:
            try:
                imap.shutdown()
            except _FAILURES:
                pass

    def new_uids(self) -> list[str]:
        """UIDs of the messages in the folder that carry neither dossier keyword."""
        mb = self.mailbox
        data = self._call(
            "search",
            "uid",
            "SEARCH",
            None,
            "UNDELETED",
            "UNKEYWORD",
            mb.processed_keyword,
            "UNKEYWORD",
            mb.refused_keyword,
        )
        return [u.decode() for u in (data[0] or b"").split()]

    def size(self, uid: str) -> int:
        """The message's size on the server (RFC822.SIZE), read without fetching it."""
        data = self._call("size", "uid", "FETCH", uid, "(RFC822.SIZE)")
        for item in data:
            text = item[0] if isinstance(item, tuple) else item
            m = _SIZE.search(text or b"")
            if m:
                return int(m.group(1))
        raise self._unavailable(f"服务器未返回邮件 {uid} 的大小", None)

    def fetch(self, uid: str) -> bytes:
        """The whole message, without setting \\Seen."""
        data = self._call("fetch", "uid", "FETCH", uid, "(BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        raise self._unavailable(f"服务器未返回邮件 {uid} 的内容", None)

    def mark(self, uid: str, keywords: list[str]) -> None:
        """Add ``keywords`` (and \\Seen); then move the message when a processed folder is set."""
        flags = "(" + " ".join(["\\Seen", *keywords]) + ")"
        self._call("store", "uid", "STORE", uid, "+FLAGS", flags)
        if self.mailbox.processed_folder and self.mailbox.processed_keyword in keywords:
            self._call("move", "uid", "MOVE", uid, _quoted(self.mailbox.processed_folder))

    # ---- plumbing --------------------------------------------------------------------------

    def _call(self, what: str, command: str, *args: object) -> list:
        if self._imap is None:
            raise self._unavailable("连接已关闭", None)
        try:
            typ, data = getattr(self._imap, command)(*args)
        except _FAILURES as e:
            raise self._unavailable(f"{what} 失败", e) from e
        return self._ok((typ, data), what)

    def _ok(self, answer: tuple[str, list], what: str) -> list:
        typ, data = answer
        if typ != "OK":
            detail = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
            raise self._unavailable(f"{what} 被拒绝：{detail[:200]}", None)
        return data

    def _unavailable(self, what: str, e: BaseException | None) -> MailboxUnavailableError:
        mb = self.mailbox
        cause = f"（{type(e).__name__}）" if e is not None else ""
        return MailboxUnavailableError(
            f"邮箱 {mb.name}（{mb.host}:{mb.port}）{what}{cause}", mailbox=mb.name
        )


def _quoted(folder: str) -> str:
    """A folder name as an IMAP quoted string, in modified UTF-7 (RFC 3501 5.1.3)."""
    name = imap_utf7(folder)
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_utf7(name: str) -> str:
    """``name`` in IMAP's modified UTF-7: printable ASCII as is, ``&`` as ``&-``, the rest
    as ``&<base64 of UTF-16BE, "," for "/">-``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


__all__ = ["ImapMailbox", "imap_utf7"]
