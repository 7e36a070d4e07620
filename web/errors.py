"""Errors raised by the web layer itself (each maps to its HTTP status via its code)."""

from __future__ import annotations

from config.errors import DossierError, ErrorCode


class UploadTooLargeError(DossierError):
    """The upload is over the size limit (nothing of it is left in the intake)."""

    code = ErrorCode.TOO_LARGE
