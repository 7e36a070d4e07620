"""Every bad input of issue 11 item 6, run as a real ``dossier`` process: one short line on stderr,
no traceback, and the exit code of config.errors.EXIT_CODES (2 usage/configuration, 3 database).

Some configuration cases (unknown key, missing DOSSIER_CONFIG file, relative DOSSIER_HOME) rely on
config/settings.py refusing or resolving them; they fail until that work is on the branch.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOSSIER = Path(sys.executable).with_name("dossier")


def closed_port() -> int:
    """A local TCP port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(
    args: list[str], home: Path, *, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "PREFECT_LOGGING"))
    }
    environ |= {"PYTHONPATH": str(REPO), "DOSSIER_HOME": str(home), "COLUMNS": "200"} | env
    return subprocess.run(
        [str(DOSSIER), *args],
        cwd=cwd or home,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_clean(result: subprocess.CompletedProcess[str], code: int) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    assert len(lines) in (1, 2), result.stderr
    assert result.returncode == code, (result.returncode, result.stderr)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    result = run(["init"], home)
    assert result.returncode == 0, result.stderr
    return home


USAGE_ERRORS = [
    ["documents", "show", "abc"],
    ["--bogus"],
    ["documents", "list", "--bogus"],
    ["nosuchcommand"],
    ["customers", "add"],  # missing --name
    ["documents", "list", "--limit", "x"],
    ["documents", "show", "99999999999999999999"],  # too large for the database
    ["documents", "list", "--status", "nope"],
    ["documents", "list", "--type", "nope"],
    ["customers", "list", "--status", "nope"],
    ["check", "--mode", "nope"],
    ["review", "list", "-u", "rita", "--reason", "nope"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=" ".join)
def test_usage_error_is_one_line_and_exit_2(home: Path, args: list[str]) -> None:
    assert_clean(run(args, home), 2)


def test_a_filter_takes_the_chinese_label(home: Path) -> None:
    result = run(["documents", "list", "--status", "待审核", "--json"], home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_debug_shows_the_traceback(home: Path) -> None:
    result = run(["--debug", "documents", "list", "--status", "nope"], home)
    assert result.returncode == 2 and "Traceback" in result.stderr


BROKEN_CONFIGS = {
    "syntax": "workers = \n[",
    "binary": b"\x00\xff\xfe\x80binary\x00".decode("latin-1"),
    "bad_value": 'workers = "many"\n',
    "unknown_key": "no_such_setting = 1\n",
}


@pytest.mark.parametrize("name", BROKEN_CONFIGS)
def test_broken_dossier_toml_exits_2(tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dossier.toml").write_bytes(BROKEN_CONFIGS[name].encode("latin-1"))
    result = run(["documents", "list"], home)
    assert_clean(result, 2)
    if name in ("bad_value", "unknown_key"):
        assert ("workers" if name == "bad_value" else "no_such_setting") in result.stderr


def test_dossier_config_naming_a_missing_file_exits_2(home: Path) -> None:
    missing = home / "nowhere.toml"
    result = run(["documents", "list"], home, DOSSIER_CONFIG=str(missing))
    assert_clean(result, 2)
    assert "nowhere.toml" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["documents", "list"], ["init"], ["ingest", "--now"], ["check", "--no-prefect"]],
    ids=" ".join,
)
def test_unreachable_database_exits_3(tmp_path: Path, args: list[str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url = f"postgresql+psycopg://dossier:secret@127.0.0.1:{closed_port()}/dossier"
    result = run(args, home, DOSSIER_DATABASE_URL=url)
    assert_clean(result, 3)
    assert "secret" not in result.stderr  # the password is never printed


def test_check_through_prefect_on_an_unreachable_database_exits_3(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url = f"postgresql+psycopg://dossier:secret@127.0.0.1:{closed_port()}/dossier"
    assert_clean(run(["check", "--prefect"], home, DOSSIER_DATABASE_URL=url), 3)


def test_unknown_database_scheme_exits_3(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = run(["documents", "list"], home, DOSSIER_DATABASE_URL="nosuchdb://x/y")
    assert result.returncode in (2, 3)
    assert_clean(result, result.returncode)


def test_unmigrated_database_says_run_init(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = run(["documents", "list"], home)
    assert_clean(result, 3)
    assert "dossier init" in result.stderr


def test_relative_dossier_home_works(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    result = run(["init"], tmp_path, cwd=tmp_path, DOSSIER_HOME="var/demo")
    assert result.returncode == 0, result.stderr
    result = run(["documents", "list"], tmp_path, cwd=tmp_path, DOSSIER_HOME="var/demo")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "demo" / "dossier.db").exists()
