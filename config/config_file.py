"""Reading ``dossier.toml`` and explaining bad settings: every problem becomes a ConfigError.

A person reads these messages: each names where the value came from (the file, the environment
variable or the argument), the key, and the rule it breaks, in Chinese, in one line. Secrets
and URLs (which may hold a password) are never repeated back.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from config.errors import ConfigError

ENV_PREFIX = "DOSSIER_"
CONFIG_ENV = "DOSSIER_CONFIG"
CONFIG_NAME = "dossier.toml"
#: Values never repeated in a message.
HIDDEN_VALUES = frozenset({"secret_key", "database_url", "storage_url"})

_TOML_POSITION = re.compile(r"^(?P<what>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$")


def default_home() -> Path:
    """``$XDG_DATA_HOME/dossier``, else ``~/.local/share/dossier``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dossier"


def config_file_candidates() -> list[Path]:
    """TOML files considered, in order; the first that exists is read."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return [Path(explicit).expanduser()]
    home = Path(os.environ.get(f"{ENV_PREFIX}HOME") or default_home()).expanduser()
    return [Path.cwd() / CONFIG_NAME, home / CONFIG_NAME]


def find_config_file() -> Path | None:
    """The TOML file to read, or None when there is none.

    Raises:
        ConfigError: ``DOSSIER_CONFIG`` names a file that does not exist.
    """
    candidates = config_file_candidates()
    if os.environ.get(CONFIG_ENV):
        (path,) = candidates
        if not path.is_file():
            raise ConfigError(
                f"环境变量 {CONFIG_ENV} 指向的配置文件不存在或不是文件：{path.absolute()}",
                file=str(path),
                key=CONFIG_ENV,
                rule="file_missing",
            )
        return path
    return next((p for p in candidates if p.is_file()), None)


def read_config_file(path: Path, *, known: Collection[str]) -> dict[str, Any]:
    """The settings in a TOML file, refusing unreadable files, bad TOML and unknown keys.

    Raises:
        ConfigError: Naming the file and what is wrong (line and column for bad TOML).
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(
            f"无法读取配置文件 {path}：{e.strerror}", file=str(path), rule="unreadable"
        ) from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"配置文件 {path} 不是 UTF-8 文本（第 {e.start + 1} 个字节无法解码），应为 TOML 格式",
            file=str(path),
            rule="not_utf8",
        ) from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            f"配置文件 {path} 不是有效的 TOML：{_toml_problem(str(e))}",
            file=str(path),
            rule="toml_syntax",
        ) from e
    _refuse_unknown_keys(path, data, known)
    return data


def _toml_problem(message: str) -> str:
    m = _TOML_POSITION.match(message)
    if not m:
        return message
    return f"第 {m['line']} 行第 {m['col']} 列（{m['what']}）"


def _refuse_unknown_keys(path: Path, data: Mapping[str, Any], known: Collection[str]) -> None:
    unknown = sorted(set(data) - set(known))
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"，是否想写 {close[0]}？" if close else ""
    raise ConfigError(
        f"配置文件 {path} 中有未知的配置项 {key}{hint}（可用的配置项见 README 的“Configuration”）",
        file=str(path),
        key=key,
        rule="unknown_key",
    )


# --- pydantic's verdicts, in our words --------------------------------------------------------

_RULES: dict[str, str] = {
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为文本",
    "path_type": "应为路径（文本）",
    "extra_forbidden": "不是已知的配置项",
}


def _rule(error: Mapping[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _RULES:
        return _RULES[kind]
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"应为以下之一：{'、'.join(choices)}"
    if kind == "greater_than_equal":
        return f"不能小于 {ctx.get('ge')}"
    if kind == "greater_than":
        return f"应大于 {ctx.get('gt')}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"无效（{error['msg']}）"


def _shown(value: Any) -> str:
    text = f"“{value}”" if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _where(key: str, *, init_keys: Collection[str], config_file: Path | None) -> str:
    env_name = f"{ENV_PREFIX}{key.upper()}"
    if key in init_keys:
        return f"设置 {key}"
    if any(name.upper() == env_name for name in os.environ):
        return f"环境变量 {env_name}"
    if config_file is not None:
        return f"配置文件 {config_file} 中的 {key}"
    return f"设置 {key}"


def settings_error(
    error: PydanticValidationError, *, init_keys: Collection[str], config_file: Path | None
) -> ConfigError:
    """One ConfigError for all of pydantic's complaints: where, which key, which rule."""
    problems, keys = [], []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "?"
        where = _where(key, init_keys=init_keys, config_file=config_file)
        shown = ""
        if key not in HIDDEN_VALUES and item["type"] != "extra_forbidden":
            shown = f"（实际为 {_shown(item['input'])}）"
        problems.append(f"{where} 无效：{_rule(item)}{shown}")
        keys.append(key)
    return ConfigError(
        "；".join(problems),
        file=str(config_file) if config_file else None,
        key=keys[0] if len(keys) == 1 else keys,
        rule=error.errors()[0]["type"],
    )
