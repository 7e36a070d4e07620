"""Every command's --help is Chinese (people read it); the table has no stale entries."""

from __future__ import annotations

import re

import typer.main
from typer.testing import CliRunner

from cli.help_text import COMMAND_HELP
from cli.main import app

CJK = re.compile(r"[\u4e00-\u9fff]")


def _commands(cmd, prefix: str = "") -> dict[str, object]:  # type: ignore[no-untyped-def]
    found: dict[str, object] = {}
    for name, sub in getattr(cmd, "commands", {}).items():
        path = f"{prefix}{name}"
        if hasattr(sub, "list_commands"):
            found.update(_commands(sub, path + " "))
        else:
            found[path] = sub
    return found


def test_every_command_has_chinese_help() -> None:
    commands = _commands(typer.main.get_command(app))
    assert len(commands) > 50
    english = sorted(p for p, c in commands.items() if not CJK.search(c.help or ""))  # type: ignore[attr-defined]
    assert english == [], f"commands without Chinese help (add them to COMMAND_HELP): {english}"
    stale = sorted(set(COMMAND_HELP) - set(commands))
    assert stale == [], f"COMMAND_HELP names commands that do not exist: {stale}"


def test_help_page_shows_the_chinese_text_and_panels() -> None:
    result = CliRunner().invoke(app, ["customers", "export", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert COMMAND_HELP["customers export"] in result.output
    assert "选项" in result.output
    assert "Export the customer list" not in result.output
