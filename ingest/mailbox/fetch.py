"""The e-mail intake pass: read new messages, hand their attachments to the intake, mark them.

For each new message of each configured mailbox, in order:

1. its size is asked first; a message over ``max_message_mb`` is refused unread;
2. it is read and parsed (:func:`~ingest.mailbox.message.read_message`);
3. every acceptable attachment is handed in with :func:`ingest.intake.drop_file` (the sender
   as submitter, the subject as note), exactly like an upload, or with the ``drop`` the caller
   passes (the shared S3 intake: :func:`app.intake_drop.mail_drop`);
4. only then is the message marked: the processed keyword (and a move to the processed folder
   when set) when anything was handed in, the refused keyword plus ``dossier-<reason>``
   keywords when anything was refused. A marked message is never read again.

A crash or a dropped connection before step 4 leaves the message unmarked: the next run reads
it again and hands its attachments in again, and the intake's duplicate check files each file
once. A server that cannot be reached ends that mailbox's pass with its error in the report.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from config import Settings
from config.errors import DossierError
from config.mail import MailboxSettings, mailbox_password
from ingest.intake import drop_file
from ingest.mailbox.imap import ImapMailbox
from ingest.mailbox.message import Refusal, read_message

log = logging.getLogger("ingest.mailbox")

_MAX_SUBMITTER = 64  # Document.submitted_by
_MAX_NOTE = 500


@dataclass
class MessageOutcome:
    """What became of one message."""

    uid: str
    outcome: str  # filed, refused, partial (some files handed in, some refused)
    sender: str | None = None
    subject: str = ""
    files: list[str] = field(default_factory=list)  # names in the intake
    refusals: list[dict[str, str | None]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


@dataclass
class MailboxReport:
    """One mailbox's pass: its messages' outcomes, and the error that stopped it, if any."""

    mailbox: str
    messages: list[MessageOutcome] = field(default_factory=list)
    error: dict[str, object] | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


#: How an attachment is handed in: ``drop(data, name, submitted_by=..., note=...)`` returns the
#: name it waits under. Default: :func:`ingest.intake.drop_file` into the local intake; with a
#: shared S3 intake the caller passes :func:`app.intake_drop.mail_drop`.
Drop = Callable[..., str]


def fetch_all(settings: Settings, *, drop: Drop | None = None) -> list[MailboxReport]:
    """Run the e-mail intake pass over every configured mailbox."""
    return [fetch_mailbox(mb, settings=settings, drop=drop) for mb in settings.mailboxes]


def fetch_mailbox(
    mailbox: MailboxSettings, *, settings: Settings, drop: Drop | None = None
) -> MailboxReport:
    """Read one mailbox's new messages into the intake; errors end up in the report."""
    report = MailboxReport(mailbox.name)
    try:
        password = mailbox_password(mailbox)
        with ImapMailbox(mailbox, password=password, timeout=settings.mail_timeout_seconds) as imap:
            for uid in imap.new_uids():
                report.messages.append(handle_message(imap, uid, settings=settings, drop=drop))
    except DossierError as e:  # unreachable server, bad login, dropped connection, no password
        log.warning("mailbox %s: %s", mailbox.name, e.message)
        report.error = e.to_dict()
    return report


def handle_message(
    imap: ImapMailbox, uid: str, *, settings: Settings, drop: Drop | None = None
) -> MessageOutcome:
    """Read, hand in and then mark one message (see the module's steps)."""
    mailbox = imap.mailbox
    limit = mailbox.max_message_mb * 1024 * 1024
    size = imap.size(uid)
    if size > limit:
        reason = f"邮件大小 {size / 1024 / 1024:.1f} MB，超过上限 {mailbox.max_message_mb} MB"
        outcome = MessageOutcome(uid, "refused", refusals=[asdict(Refusal("too_large", reason))])
    else:
        raw = imap.fetch(uid)
        outcome = file_message(raw, uid=uid, mailbox=mailbox, settings=settings, drop=drop)
    imap.mark(uid, _keywords(mailbox, outcome))
    log.info(
        "mailbox %s message %s: %s, %d file(s), %d refused",
        mailbox.name,
        uid,
        outcome.outcome,
        len(outcome.files),
        len(outcome.refusals),
    )
    return outcome


def file_message(
    raw: bytes,
    *,
    uid: str,
    mailbox: MailboxSettings,
    settings: Settings,
    drop: Drop | None = None,
) -> MessageOutcome:
    """Hand one message's acceptable attachments in to the intake (no IMAP: nothing marked)."""
    try:
        read = read_message(raw, rules=mailbox, max_file_bytes=settings.max_file_mb * 1024 * 1024)
    except Exception as e:  # noqa: BLE001 - a message the parser chokes on is refused, not retried
        log.warning("mailbox %s message %s unreadable: %s", mailbox.name, uid, type(e).__name__)
        refusal = Refusal("malformed", f"邮件无法解析（{type(e).__name__}）")
        return MessageOutcome(uid, "refused", refusals=[asdict(refusal)])
    drop = drop or functools.partial(_local_drop, intake=Path(settings.intake_dir or ""))
    submitter = read.sender[:_MAX_SUBMITTER] if read.sender else None
    note = read.subject[:_MAX_NOTE] or None
    files = [drop(a.data, a.name, submitted_by=submitter, note=note) for a in read.attachments]
    kind = "partial" if files and read.refusals else ("filed" if files else "refused")
    return MessageOutcome(
        uid,
        kind,
        sender=read.sender,
        subject=read.subject,
        files=files,
        refusals=[asdict(r) for r in read.refusals],
        ignored=read.ignored,
    )


def _local_drop(
    data: bytes, name: str, *, intake: Path, submitted_by: str | None, note: str | None
) -> str:
    return drop_file(data, name, intake, submitted_by=submitted_by, note=note).name


def _keywords(mailbox: MailboxSettings, outcome: MessageOutcome) -> list[str]:
    keywords = []
    if outcome.files:
        keywords.append(mailbox.processed_keyword)
    if outcome.refusals:
        keywords.append(mailbox.refused_keyword)
        reasons = sorted({str(r["reason"]) for r in outcome.refusals})
        keywords += [f"dossier-{r.replace('_', '-')}" for r in reasons]
    return keywords


__all__ = ["MailboxReport", "MessageOutcome", "fetch_all", "fetch_mailbox", "file_message"]
