"""Pure rules of the web layer: when cookies are Secure, which headers every response carries,
which path ids are valid, and how error codes map to HTTP statuses."""

from __future__ import annotations

import pytest

from config import load_settings
from config.errors import http_status
from web.errors import LoginRequired, PageNotFoundError, RenderError
from web.params import MAX_ID
from web.security import secure_cookies, security_headers


@pytest.mark.parametrize(
    ("configured", "host", "expected"),
    [
        (None, "127.0.0.1", False),
        (None, "localhost", False),
        (None, "::1", False),
        (None, "[::1]", False),
        (None, "0.0.0.0", True),
        (None, "dossier.example.cn", True),
        (True, "127.0.0.1", True),
        (False, "0.0.0.0", False),
    ],
)
def test_secure_cookies_default_follows_the_host(
    configured: bool | None, host: str, expected: bool
) -> None:
    assert secure_cookies(configured=configured, host=host) is expected


def test_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOSSIER_WEB_SECURE_COOKIES", "true")
    assert load_settings(home=tmp_path).web_secure_cookies is True
    monkeypatch.delenv("DOSSIER_WEB_SECURE_COOKIES")
    assert load_settings(home=tmp_path).web_secure_cookies is None


def test_hsts_only_when_secure() -> None:
    assert "Strict-Transport-Security" not in security_headers(secure=False)
    secure = security_headers(secure=True)
    assert secure["Strict-Transport-Security"].startswith("max-age=")
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                 "Content-Security-Policy"):
        assert name in secure and name in security_headers(secure=False)


def test_max_id_is_the_postgresql_integer_limit() -> None:
    assert MAX_ID == 2147483647


def test_web_errors_map_to_statuses() -> None:
    assert http_status(LoginRequired()) == 401
    assert http_status(PageNotFoundError()) == 404
    assert http_status(RenderError("第 9 页无法渲染")) == 422
    assert LoginRequired().message == "请先登录"
