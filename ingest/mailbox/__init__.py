"""E-mail intake: IMAP mailboxes whose attachments are handed in to the intake folder.

``message`` reads one e-mail and applies a mailbox's rules (standard ``email`` package);
``imap`` talks to the server (standard ``imaplib``); ``fetch`` is the pass: read, hand in with
:func:`ingest.intake.drop_file`, and only then mark the message.
"""

from ingest.mailbox.fetch import (
    MailboxReport,
    MessageOutcome,
    fetch_all,
    fetch_mailbox,
    file_message,
)

__all__ = ["MailboxReport", "MessageOutcome", "fetch_all", "fetch_mailbox", "file_message"]
