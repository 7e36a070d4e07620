"""Errors raised by the data layer: validation, lookups, uniqueness and the audit trail.

All derive from :class:`config.errors.DossierError`; each sets its ``ErrorCode``, from which the
CLI exit code and the HTTP status follow (``config.errors.EXIT_CODES`` / ``HTTP_STATUSES``).
"""

from __future__ import annotations

from config.errors import DossierError, ErrorCode


class ValidationError(DossierError):
    """A value that breaks a rule.

    Attributes:
        field: The field name (English snake_case, e.g. ``"uscc"``).
        reason: A stable code from ``models.validation.REASONS``.
        message: Chinese text naming the field and what is wrong.
    """

    code = ErrorCode.VALIDATION

    def __init__(self, message: str, *, field: str, reason: str) -> None:
        super().__init__(message, field=field, reason=reason)
        self.field = field
        self.reason = reason


class NotFoundError(DossierError):
    """A record that should exist does not."""

    code = ErrorCode.NOT_FOUND


class ConflictError(DossierError):
    """A unique value (USCC, ID number, username) already belongs to another record."""

    code = ErrorCode.CONFLICT

    def __init__(self, message: str, *, field: str, existing: str | None = None) -> None:
        super().__init__(message, field=field, existing=existing)
        self.field = field
        self.existing = existing


class AuditImmutableError(DossierError):
    """Someone tried to change or delete an audit event."""

    code = ErrorCode.PERMISSION_DENIED
