"""``dossier tokens create|list|revoke`` through CliRunner on ``cli.main.app`` (SQLite,
PostgreSQL): the token is printed once, lists never show it, users manage their own tokens and
admins anybody's, and a revoked token no longer authenticates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from archive import tokens
from cli.main import app
from models.db import make_engine

runner = CliRunner()
PASSWORD = "cli-password-1"


def ok(*args: str, user: str | None = None) -> object:
    who = ["--user", user] if user else []
    result = runner.invoke(app, [*args, "--json", *who])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def home(tmp_home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOSSIER_DATABASE_URL", db_url)
    assert runner.invoke(app, ["init"]).exit_code == 0
    for name, role in (("sam", "sales"), ("sue", "sales"), ("ada", "admin")):
        added = runner.invoke(
            app, ["users", "add", name, "--role", role], input=f"{PASSWORD}\n{PASSWORD}\n"
        )
        assert added.exit_code == 0, added.output
    return tmp_home


def _authenticates(db_url: str, token: str) -> str | None:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            try:
                return tokens.authenticate_token(session, token).username
            except tokens.TokenAuthenticationError:
                return None
    finally:
        engine.dispose()


def test_token_lifecycle_from_the_command_line(home: Path, db_url: str) -> None:
    made = ok("tokens", "create", "--name", "对接脚本", "--expires-days", "30", user="sam")
    assert made["username"] == "sam" and made["token"].startswith("dsr_")
    assert made["expires_at"] is not None
    assert _authenticates(db_url, made["token"]) == "sam"
    listed = ok("tokens", "list", user="sam")
    assert [t["id"] for t in listed] == [made["id"]] and "token" not in listed[0]
    plain = runner.invoke(app, ["tokens", "list", "--user", "sam"])
    assert made["token"] not in plain.stdout
    # Another sales user can neither make a token for sam nor revoke sam's.
    refused = runner.invoke(app, ["tokens", "create", "--for", "sam", "--user", "sue"])
    assert refused.exit_code != 0 and "没有权限" in refused.stderr
    hidden = runner.invoke(app, ["tokens", "revoke", str(made["id"]), "--user", "sue"])
    assert hidden.exit_code != 0 and "不存在" in hidden.stderr
    # An admin (or the operator) sees and revokes anybody's.
    assert made["id"] in [t["id"] for t in ok("tokens", "list", "--all", user="ada")]
    revoked = ok("tokens", "revoke", str(made["id"]), user="ada")
    assert revoked["revoked_at"] is not None and revoked["live"] is False
    assert _authenticates(db_url, made["token"]) is None
    by_operator = ok("tokens", "create", "--for", "sue")
    assert by_operator["username"] == "sue"
