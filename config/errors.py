"""The root of dossier's typed error hierarchy.

Every error dossier raises on purpose derives from :class:`DossierError`. Each subclass sets
``code`` (a stable string programs can rely on) and ``retryable`` (a transient fault that a retry
may cure, such as a storage timeout) as class attributes. Third-party exceptions are converted
at the boundary with ``raise ... from e``.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable error codes. Quarantine folders are named after the intake ones."""

    # intake / normalization (the file goes to quarantine/<code>/)
    UNSUPPORTED = "unsupported"
    CORRUPT = "corrupt"
    ENCRYPTED = "encrypted"
    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    DUPLICATE = "duplicate"
    EMPTY = "empty"
    NOT_REGULAR_FILE = "not_regular_file"
    CONVERSION_FAILED = "conversion_failed"
    OCR_FAILED = "ocr_failed"
    INTERNAL = "internal"
    # storage
    STORAGE_UNAVAILABLE = "storage_unavailable"
    MAILBOX_UNAVAILABLE = "mailbox_unavailable"  # an IMAP server unreachable or refusing
    NOTIFICATION_FAILED = "notification_failed"  # an SMTP server or webhook did not take it
    OBJECT_NOT_FOUND = "object_not_found"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    INVALID_KEY = "invalid_key"
    # data
    VALIDATION = "validation"
    CONFLICT = "conflict"
    PRECONDITION_FAILED = "precondition_failed"  # If-Match names an old version
    PRECONDITION_REQUIRED = "precondition_required"  # a change without If-Match
    NOT_FOUND = "not_found"
    INVALID_TRANSITION = "invalid_transition"
    PERMISSION_DENIED = "permission_denied"
    AUTHENTICATION = "authentication"
    THROTTLED = "throttled"
    CONFIGURATION = "configuration"
    USAGE = "usage"
    DATABASE_UNAVAILABLE = "database_unavailable"
    SCHEMA_OUTDATED = "schema_outdated"


# One table each: the CLI exit code and the HTTP status of every code. Anything not listed is 1
# (CLI) and 500 (HTTP). Exit 2: the command line or the configuration is wrong (fix the call);
# exit 3: the command could not run against the database (start or migrate it).
EXIT_CODES: dict[ErrorCode, int] = {
    ErrorCode.USAGE: 2,
    ErrorCode.CONFIGURATION: 2,
    ErrorCode.DATABASE_UNAVAILABLE: 3,
    ErrorCode.SCHEMA_OUTDATED: 3,
}

HTTP_STATUSES: dict[ErrorCode, int] = {
    ErrorCode.UNSUPPORTED: 415,
    ErrorCode.CORRUPT: 422,
    ErrorCode.ENCRYPTED: 422,
    ErrorCode.EMPTY: 422,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.DUPLICATE: 409,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
    ErrorCode.MAILBOX_UNAVAILABLE: 503,
    ErrorCode.DATABASE_UNAVAILABLE: 503,
    ErrorCode.OBJECT_NOT_FOUND: 404,
    ErrorCode.INVALID_KEY: 422,
    ErrorCode.VALIDATION: 422,
    ErrorCode.USAGE: 400,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PRECONDITION_FAILED: 412,
    ErrorCode.PRECONDITION_REQUIRED: 428,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.AUTHENTICATION: 401,
    ErrorCode.THROTTLED: 429,
}


class DossierError(Exception):
    """Base class. ``message`` is for people (Chinese where users see it); ``code`` for programs."""

    code: ErrorCode = ErrorCode.INTERNAL
    retryable: bool = False

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, object]:
        return {"code": str(self.code), "message": self.message, **self.detail}


class ConfigurationError(DossierError):
    """The settings, ``dossier.toml`` or a data file is wrong; the message names file, key, rule."""

    code = ErrorCode.CONFIGURATION


#: The short name (issue 11 calls it ConfigError); the same class.
ConfigError = ConfigurationError


def exit_code(error: DossierError) -> int:
    """The CLI exit code for ``error`` (see :data:`EXIT_CODES`)."""
    return EXIT_CODES.get(error.code, 1)


def http_status(error: DossierError) -> int:
    """The HTTP status for ``error`` (see :data:`HTTP_STATUSES`)."""
    return HTTP_STATUSES.get(error.code, 500)
