"""Errors the application layer raises when a command cannot run (database, schema, usage)."""

from __future__ import annotations

from config.errors import DossierError, ErrorCode


class DatabaseUnavailableError(DossierError):
    """The database cannot be reached (wrong URL, server down, unknown scheme)."""

    code = ErrorCode.DATABASE_UNAVAILABLE
    retryable = True


class SchemaOutdatedError(DossierError):
    """The database is not migrated to this version's schema: run ``dossier init``."""

    code = ErrorCode.SCHEMA_OUTDATED


class UsageError(DossierError):
    """The command line is wrong: an unknown filter value, an id out of range."""

    code = ErrorCode.USAGE


class BackupFailedError(DossierError):
    """A backup could not be written; the backups already in the destination are untouched."""

    code = ErrorCode.STORAGE_UNAVAILABLE
    retryable = True


class NotificationError(DossierError):
    """A notification the SMTP server or the webhook endpoint did not accept (after retries).

    It is not recorded as sent: the next run tries again.
    """

    code = ErrorCode.NOTIFICATION_FAILED
    retryable = True
