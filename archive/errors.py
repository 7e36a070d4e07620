"""Errors raised by the archive: naming and object storage, review, permissions, sign-in.

``StorageError`` and its subclasses are what a store raises; a plain ``StorageError`` is a
transient fault (network, timeout, disk busy) worth a retry. A checksum mismatch or a missing
object is not cured by retrying.
"""

from __future__ import annotations

from config.errors import DossierError, ErrorCode


class StorageError(DossierError):
    """The object store could not complete an operation; usually transient."""

    code = ErrorCode.STORAGE_UNAVAILABLE
    retryable = True


class StorageAccessError(StorageError):
    """A permanent store fault: access denied, missing bucket, a request the store refuses."""

    retryable = False


class ObjectNotFoundError(StorageError):
    """No object under this key."""

    code = ErrorCode.OBJECT_NOT_FOUND
    retryable = False


class ChecksumMismatchError(StorageError):
    """Stored bytes differ from what was written or recorded (SHA-256)."""

    code = ErrorCode.CHECKSUM_MISMATCH
    retryable = False


class InvalidKeyError(DossierError):
    """An object key (or a name used to build one) breaks the key rules."""

    code = ErrorCode.INVALID_KEY
    retryable = False


class KeyCollisionError(DossierError):
    """No free key was found with collision suffixes ``-2``, ``-3``, ... up to the limit."""

    code = ErrorCode.CONFLICT
    retryable = False


class DuplicateOriginalError(DossierError):
    """The same original bytes are already filed in a live (not rejected) document."""

    code = ErrorCode.DUPLICATE
    retryable = False


class InvalidTransitionError(DossierError):
    """The action is not allowed in the document's current status."""

    code = ErrorCode.INVALID_TRANSITION


class ClaimConflictError(DossierError):
    """Another reviewer holds a live claim on the document."""

    code = ErrorCode.CONFLICT


class PermissionDeniedError(DossierError):
    """The user's role does not allow the action (or the user is disabled)."""

    code = ErrorCode.PERMISSION_DENIED


class AuthenticationError(DossierError):
    """Wrong password, unknown user or disabled user (one message for all three)."""

    code = ErrorCode.AUTHENTICATION


class ThrottledError(DossierError):
    """Too many failed sign-ins for this username; ``retry_after`` seconds until unlocked."""

    code = ErrorCode.THROTTLED

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class ImportRefusedError(DossierError):
    """A customer file to import is refused as a whole (empty, encrypted, no header, too big...)."""

    code = ErrorCode.VALIDATION
    retryable = False


class RestoreRefusedError(DossierError):
    """A restore would overwrite data, or its backup is incomplete or damaged."""

    code = ErrorCode.CONFLICT
    retryable = False


class TokenAuthenticationError(DossierError):
    """A bearer token that is unknown, expired, revoked, or whose user is disabled."""

    code = ErrorCode.AUTHENTICATION

    def __init__(self, message: str = "访问令牌无效、已过期或已撤销", **detail: object) -> None:
        super().__init__(message, **detail)
