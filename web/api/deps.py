"""Who calls the API and how often: a bearer token or the web session; the rate limit; limits.

``Authorization: Bearer <token>`` authenticates by a personal API token (archive.tokens) and by
nothing else, so such a request needs no CSRF token. Without the header the web session is
used (the cookie, CSRF on POST as in the web UI). Either way the user gets the same roles and
visibility as in the web UI. Each caller (token, or signed-in user) may make
``api_rate_limit_per_minute`` requests a minute; more get 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive import tokens
from models.user import User
from web.deps import Context, DbSession
from web.errors import BodyTooLargeError, LoginRequired, RateLimitedError
from web.sessions import signed_in_user

API_PREFIX = "/api/v1"
WINDOW_SECONDS = 60
#: Room for the multipart framing and the small form fields around one file.
BODY_OVERHEAD_BYTES = 1024 * 1024


class RateLimiter:
    """A fixed one-minute window per caller, kept in memory (one server process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}

    def hit(self, key: str, *, now: float | None = None) -> None:
        """Count a request of ``key``; raise :class:`RateLimitedError` past the limit."""
        if self.per_minute <= 0:
            return
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            if len(self._windows) > 10_000:  # drop callers of earlier windows
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
            start, count = self._windows.get(key, (window, 0))
            count = count + 1 if start == window else 1
            self._windows[key] = (window, count)
        if count > self.per_minute:
            retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now))
            raise RateLimitedError(retry_after=retry_after)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise tokens.TokenAuthenticationError("请使用 Authorization: Bearer <访问令牌>")
    return token.strip()


def api_user(request: Request, db: DbSession, ctx: Context) -> User:
    """The caller: the token's user, else the signed-in user; counted by the rate limit.

    Raises:
        TokenAuthenticationError: A malformed, unknown, expired or revoked token (401).
        LoginRequired: Neither a token nor a live web session (401).
        RateLimitedError: Over the per-minute limit (429).
    """
    token = _bearer(request)
    if token is not None:
        user = tokens.authenticate_token(db, token)
        db.commit()
        key = "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    else:
        found = signed_in_user(request, db, settings=ctx.settings)
        if found is None:
            raise LoginRequired("请先登录或使用访问令牌")
        user, key = found, f"user:{found.id}"
    request.app.state.api_limiter.hit(key)
    return user


ApiUser = Annotated[User, Depends(api_user)]


class BodyLimitMiddleware:
    """Refuse API request bodies over ``max_bytes`` (413), by Content-Length or as they stream.

    A body without a length is counted as it arrives; the route reading it gets
    :class:`BodyTooLargeError` (413) at the first chunk past the limit, so nothing of it is
    dropped into the intake.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _refusal(self) -> BodyTooLargeError:
        mb = self.max_bytes // (1024 * 1024)
        return BodyTooLargeError(f"请求内容超过 {mb} MB，未接收")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_error(scope, receive, send, self._refusal())
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._refusal()
            return message

        await self.app(scope, limited, send)


async def _send_error(scope: Scope, receive: Receive, send: Send, error: BodyTooLargeError) -> None:
    from starlette.requests import Request as StarletteRequest

    from web.handlers import error_response

    response = error_response(StarletteRequest(scope, receive), error)
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
