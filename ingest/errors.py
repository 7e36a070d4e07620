"""Errors raised while reading and normalizing an input file.

Each leads the file to ``quarantine/<code>/`` with a ``.error.json``. Doubts about content
(low OCR confidence, a failed check digit) are not errors: they are review reasons.
"""

from __future__ import annotations

from config.errors import DossierError, ErrorCode


class IngestError(DossierError):
    """A file that cannot be ingested. The message says why, specifically."""

    code = ErrorCode.INTERNAL


class UnsupportedFormatError(IngestError):
    code = ErrorCode.UNSUPPORTED


class CorruptFileError(IngestError):
    code = ErrorCode.CORRUPT


class EncryptedFileError(IngestError):
    code = ErrorCode.ENCRYPTED


class TooLargeError(IngestError):
    """File size, pixel count (decompression bomb) or page count over the configured limit."""

    code = ErrorCode.TOO_LARGE


class EmptyFileError(IngestError):
    code = ErrorCode.EMPTY


class NotRegularFileError(IngestError):
    """Symlinks, FIFOs, sockets, devices: refused, never followed."""

    code = ErrorCode.NOT_REGULAR_FILE


class ProcessingTimeoutError(IngestError):
    code = ErrorCode.TIMEOUT


class ConversionError(IngestError):
    """LibreOffice could not convert a Word or Excel file."""

    code = ErrorCode.CONVERSION_FAILED


class OcrError(IngestError):
    code = ErrorCode.OCR_FAILED


class DuplicateFileError(IngestError):
    """The same bytes are already archived: not filed twice."""

    code = ErrorCode.DUPLICATE


class AlreadyClaimedError(DossierError):
    """Another worker took the file first (or it vanished). Not a failure: skip the file."""

    code = ErrorCode.CONFLICT


class WorkerCrashedError(IngestError):
    """The child process died (killed by a signal or exited) while processing the file."""


class WorkerInterruptedError(WorkerCrashedError):
    """The worker was lost because this process is being stopped (serve shutting down).

    Not the file's fault: retryable, so the claim goes back to the intake, never to quarantine.
    """

    retryable = True


class WorkerSetupError(IngestError):
    """The worker could not load the task (e.g. our own code fails to import).

    Not the file's fault: retryable, so the file goes back to the intake instead of quarantine.
    """

    retryable = True


class QuarantineEntryNotFoundError(DossierError):
    """No quarantined file under this reference (already re-queued or discarded)."""

    code = ErrorCode.NOT_FOUND


class QuarantineActionError(DossierError):
    """A quarantine action that does not fit this entry (e.g. re-queueing a symlink's record)."""

    code = ErrorCode.INVALID_TRANSITION


class MailboxUnavailableError(DossierError):
    """An IMAP server that cannot be reached, refuses the login or drops the connection.

    Nothing of the message being read was marked: the next run reads it again.
    """

    code = ErrorCode.MAILBOX_UNAVAILABLE
    retryable = True
