"""Every error the web layer raises on purpose, each a DossierError with its ErrorCode.

The HTTP status of each comes from ``config.errors.http_status``; ``web.app`` turns any of them
into one response (a Chinese page for browsers, JSON for API-style requests).
"""

from __future__ import annotations

from config.errors import DossierError, ErrorCode


class UploadTooLargeError(DossierError):
    """The upload is over the size limit (nothing of it is left in the intake)."""

    code = ErrorCode.TOO_LARGE


class LoginRequired(DossierError):
    """No signed-in user: browsers are sent to the login page, API clients get 401."""

    code = ErrorCode.AUTHENTICATION

    def __init__(self, message: str = "请先登录", **detail: object) -> None:
        super().__init__(message, **detail)


class RenderError(DossierError):
    """A PDF page could not be rendered (corrupt PDF, page out of range)."""

    code = ErrorCode.CORRUPT


class PageNotFoundError(DossierError):
    """A path names nothing (an id out of range, an unknown page)."""

    code = ErrorCode.NOT_FOUND

    def __init__(self, message: str = "页面或资料不存在", **detail: object) -> None:
        super().__init__(message, **detail)


class RequestRefused(DossierError):
    """A request refused by the framework (bad method, bad form, CSRF): the code is given."""

    def __init__(self, message: str, *, code: ErrorCode, **detail: object) -> None:
        super().__init__(message, **detail)
        self.code = code


class RateLimitedError(DossierError):
    """Too many API requests in the current minute; ``retry_after`` seconds until the next."""

    code = ErrorCode.THROTTLED

    def __init__(self, message: str = "请求过于频繁，请稍后再试", *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)


class BodyTooLargeError(DossierError):
    """A request body over the size limit (the upload limit, ``max_file_mb``)."""

    code = ErrorCode.TOO_LARGE


class PreconditionFailedError(DossierError):
    """``If-Match`` names a version that is no longer current."""

    code = ErrorCode.PRECONDITION_FAILED


class PreconditionRequiredError(DossierError):
    """A change sent without ``If-Match`` (the version it was based on)."""

    code = ErrorCode.PRECONDITION_REQUIRED
