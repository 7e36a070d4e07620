"""Secrets, CSRF tokens, secure cookies and security headers.

The session cookie is Starlette's ``SessionMiddleware`` (signed with itsdangerous, HttpOnly,
SameSite=Lax, Secure per :func:`secure_cookies`). It holds the opaque token of a server-side
session (web/sessions.py decides who is signed in), the per-session CSRF token and a flash
message; never the user's id or role.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECRET_FILE_NAME = "secret_key"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_CSRF = "csrf"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
HSTS_VALUE = "max-age=31536000; includeSubDomains"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
}


class SecurityHeadersMiddleware:
    """ASGI middleware adding fixed headers to every HTTP response (streaming included)."""

    def __init__(self, app: ASGIApp, *, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                        for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secure_cookies(*, configured: bool | None, host: str) -> bool:
    """Whether cookies are Secure (and HSTS sent): the setting, else on off the loopback host.

    Args:
        configured: ``Settings.web_secure_cookies`` (``DOSSIER_WEB_SECURE_COOKIES``) or None.
        host: The address the web UI listens on.
    """
    if configured is not None:
        return configured
    return host.strip("[]").lower() not in LOOPBACK_HOSTS


def security_headers(*, secure: bool) -> dict[str, str]:
    """Headers for every response; HSTS only when the site is served over TLS."""
    headers = dict(SECURITY_HEADERS)
    if secure:
        headers["Strict-Transport-Security"] = HSTS_VALUE
    return headers


def load_or_create_secret(*, configured: str, home: Path) -> str:
    """The cookie-signing secret: ``configured`` if set, else ``<home>/secret_key``.

    The file is created once (mode 0600) with a random value when it does not exist.

    Args:
        configured: ``Settings.secret_key`` (empty means "use the file").
        home: ``Settings.home``.

    Returns:
        The secret text.
    """
    if configured:
        return configured
    path = Path(home) / SECRET_FILE_NAME
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its value
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value)
    return value


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


def csrf_valid(request: Request, submitted: str | None) -> bool:
    """Whether ``submitted`` equals the session's token (constant-time comparison)."""
    expected = request.session.get(SESSION_CSRF)
    if not expected or not submitted:
        return False
    return hmac.compare_digest(str(expected), str(submitted))

