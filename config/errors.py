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
    OBJECT_NOT_FOUND = "object_not_found"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    INVALID_KEY = "invalid_key"
    # data
    VALIDATION = "validation"
    CONFLICT = "conflict"
    NOT_FOUND = "not_found"
    INVALID_TRANSITION = "invalid_transition"
    PERMISSION_DENIED = "permission_denied"
    CONFIGURATION = "configuration"


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
    code = ErrorCode.CONFIGURATION
