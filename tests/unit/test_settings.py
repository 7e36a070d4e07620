"""Settings from real files and variables: every mistake is one ConfigError naming file, key, rule.

Each test writes a real ``dossier.toml`` (or sets real ``DOSSIER_*`` variables) in a temporary
working directory and loads the settings the way the CLI does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_settings
from config.errors import ConfigError, DossierError, ErrorCode, exit_code


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with no DOSSIER_* variables (conftest cleared them)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _refused(**overrides: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    error = info.value
    assert isinstance(error, DossierError)
    assert error.code == ErrorCode.CONFIGURATION and exit_code(error) == 2
    assert "\n" not in error.message  # one line
    for english in ("validation error", "pydantic", "Traceback", "Input should"):
        assert english not in error.message
    return error


# --- the file -----------------------------------------------------------------------------------


def test_a_good_file_is_read_below_the_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(workdir / "dossier.toml", 'workers = 3\nreview_policy = "anomalies"\n')
    settings = load_settings()
    assert settings.workers == 3 and settings.review_policy == "anomalies"
    monkeypatch.setenv("DOSSIER_WORKERS", "5")
    assert load_settings().workers == 5


def test_wrong_type_names_file_key_and_rule(workdir: Path) -> None:
    toml = _write(workdir / "dossier.toml", 'workers = "many"\n')
    error = _refused()
    assert str(toml) in error.message
    assert "workers" in error.message and "应为整数" in error.message and "many" in error.message
    assert error.detail == {"file": str(toml), "key": "workers", "rule": "int_parsing"}


def test_every_wrong_value_is_listed_in_one_line(workdir: Path) -> None:
    _write(workdir / "dossier.toml", 'review_policy = "some"\nworkers = 0\n')
    error = _refused()
    assert "review_policy" in error.message and "应为以下之一：all、anomalies" in error.message
    assert "workers" in error.message and "不能小于 1" in error.message
    assert error.detail["key"] == ["review_policy", "workers"]


def test_unknown_key_is_refused_with_a_suggestion(workdir: Path) -> None:
    toml = _write(workdir / "dossier.toml", "wrokers = 2\n")
    error = _refused()
    assert str(toml) in error.message and "未知的配置项 wrokers" in error.message
    assert "workers" in error.message  # the close match
    assert error.detail["rule"] == "unknown_key"


def test_toml_syntax_error_gives_line_and_column(workdir: Path) -> None:
    toml = _write(workdir / "dossier.toml", "workers = 2\nreview_policy = \n")
    error = _refused()
    assert str(toml) in error.message and "不是有效的 TOML" in error.message
    assert "第 2 行" in error.message
    assert error.detail["rule"] == "toml_syntax"


def test_binary_file_is_refused(workdir: Path) -> None:
    toml = _write(workdir / "dossier.toml", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    error = _refused()
    assert str(toml) in error.message and "UTF-8" in error.message
    assert error.detail["rule"] == "not_utf8"


def test_nul_bytes_in_utf8_are_a_syntax_error(workdir: Path) -> None:
    _write(workdir / "dossier.toml", b"workers = 2\x00\n")
    assert _refused().detail["rule"] == "toml_syntax"


def test_a_folder_named_dossier_toml_is_not_read(workdir: Path) -> None:
    (workdir / "dossier.toml").mkdir()
    assert load_settings().review_policy == "all"


# --- DOSSIER_CONFIG -----------------------------------------------------------------------------


def test_dossier_config_naming_a_missing_file_is_an_error(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(workdir / "dossier.toml", "workers = 2\n")  # not a fallback for a wrong name
    monkeypatch.setenv("DOSSIER_CONFIG", "missing.toml")
    error = _refused()
    assert "DOSSIER_CONFIG" in error.message and str(workdir / "missing.toml") in error.message
    assert error.detail["key"] == "DOSSIER_CONFIG" and error.detail["rule"] == "file_missing"


def test_dossier_config_naming_a_folder_is_an_error(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_CONFIG", str(workdir))
    assert _refused().detail["rule"] == "file_missing"


def test_dossier_config_relative_to_the_working_directory(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "etc").mkdir()
    _write(workdir / "etc" / "prod.toml", "workers = 7\n")
    monkeypatch.setenv("DOSSIER_CONFIG", "etc/prod.toml")
    assert load_settings().workers == 7


# --- environment variables and arguments --------------------------------------------------------


def test_wrong_environment_variable_is_named(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_WORKERS", "many")
    error = _refused()
    assert "环境变量 DOSSIER_WORKERS" in error.message and "应为整数" in error.message


def test_unknown_argument_is_refused(workdir: Path) -> None:
    error = _refused(wrokers=2)
    assert "wrokers" in error.message and "不是已知的配置项" in error.message


# --- database URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [("mysql://dossier:hunter2@db/dossier", "“mysql”"), ("dossier.db", "不是 URL")],
)
def test_unknown_database_scheme_is_a_clear_error(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, url: str, shown: str
) -> None:
    monkeypatch.setenv("DOSSIER_DATABASE_URL", url)
    error = _refused()
    assert "DOSSIER_DATABASE_URL" in error.message and shown in error.message
    assert "sqlite:///" in error.message and "postgresql://" in error.message
    assert "hunter2" not in error.message  # URLs may hold passwords: never echoed


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://dossier@db.internal/dossier",
        "postgres://u:p@h:5433/d",
        "postgresql+psycopg://u@h/d",
        "sqlite:///:memory:",
        "sqlite:////srv/dossier/dossier.db",
    ],
)
def test_supported_database_urls_are_kept(workdir: Path, url: str) -> None:
    assert load_settings(database_url=url).database_url == url


# --- relative paths -----------------------------------------------------------------------------


def test_relative_home_resolves_against_the_working_directory(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_HOME", "var/demo")
    settings = load_settings()
    home = workdir / "var" / "demo"
    assert settings.home == home
    assert settings.database_url == f"sqlite:///{home / 'dossier.db'}"
    assert settings.storage_url == (home / "archive").as_uri()
    assert settings.intake_dir == home / "intake" and settings.work_dir == home / "work"


def test_relative_paths_in_the_file_resolve_against_the_working_directory(
    workdir: Path,
) -> None:
    _write(
        workdir / "dossier.toml",
        'database_url = "sqlite:///data/d.db"\nintake_dir = "in"\nquarantine_dir = "q"\n'
        'taxonomy_file = "conf/taxonomy.toml"\n',
    )
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{workdir / 'data' / 'd.db'}"
    assert settings.intake_dir == workdir / "in" and settings.quarantine_dir == workdir / "q"
    assert settings.taxonomy_file == workdir / "conf" / "taxonomy.toml"


def test_resolved_paths_do_not_move_with_the_working_directory(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(home="var/demo")
    (workdir / "elsewhere").mkdir()
    monkeypatch.chdir(workdir / "elsewhere")
    assert settings.home == workdir / "var" / "demo"


# --- the taxonomy file --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"\x89PNG\x00\xff", "unreadable"),
        (b"[[document_types]\n", "unreadable"),
        (b"", "malformed"),
    ],
)
def test_a_broken_taxonomy_file_is_a_config_error(workdir: Path, content: bytes, rule: str) -> None:
    from config.taxonomy import load_taxonomy

    path = _write(workdir / "taxonomy.toml", content)
    with pytest.raises(ConfigError) as info:
        load_taxonomy(path)
    assert str(path) in info.value.message and "资料分类文件" in info.value.message
    assert info.value.detail["rule"] == rule


# --- scheduled upkeep ---------------------------------------------------------------------------


def test_upkeep_schedule_defaults_and_an_unknown_time_zone(workdir: Path) -> None:
    s = load_settings(home="h")
    assert (s.backup_dest, s.backup_keep, s.schedule_timezone) == ("", 8, "Asia/Shanghai")
    assert (s.backup_cron, s.upkeep_cron) == ("0 3 * * 0", "0 8 1 * *")
    assert s.reports_dir == workdir / "h" / "reports"
    error = _refused(schedule_timezone="Beijing")
    assert "schedule_timezone" in error.message and "Asia/Shanghai" in error.message
    assert "backup_keep" in _refused(backup_keep=0).message
