"""Mailbox settings for the e-mail intake (``[[mailboxes]]`` in dossier.toml).

Each mailbox names an IMAP server, the account and where its password is kept (an environment
variable or a file, never in the settings themselves), the folder to read, how a handled
message is marked (a keyword, or a move to ``processed_folder``), and the rules that decide
which messages and attachments are taken.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.errors import ConfigError

__all__ = ["MailboxSettings", "mailbox_password"]

_KEYWORD = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class MailboxSettings(BaseModel):
    """One IMAP mailbox the e-mail intake reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""  # shown in reports and logs; default: user@host
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)  # default: 993 with tls, else 143
    tls: Literal["tls", "starttls", "off"] = "tls"
    user: str
    password_env: str | None = None  # name of the environment variable holding the password
    password_file: Path | None = None  # or a file holding it (first line)
    folder: str = "INBOX"
    processed_folder: str | None = None  # move handled messages here; None: keyword only
    processed_keyword: str = "dossier-filed"
    refused_keyword: str = "dossier-refused"
    # Rules. Senders: full addresses or "@domain"; empty: anyone.
    allowed_senders: list[str] = Field(default_factory=list)
    subject_pattern: str | None = None  # a regular expression searched in the subject
    include_names: list[str] = Field(default_factory=list)  # globs; empty: every name
    exclude_names: list[str] = Field(default_factory=list)
    inline_image_min_bytes: int = Field(default=20_000, ge=0)  # smaller inline images ignored
    max_message_mb: int = Field(default=300, ge=1)  # bigger messages refused unread

    @field_validator("subject_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(f"主题规则不是有效的正则表达式：{e}") from e
        return value

    @field_validator("processed_keyword", "refused_keyword")
    @classmethod
    def _keyword(cls, value: str) -> str:
        if not _KEYWORD.match(value):
            raise ValueError("IMAP 关键字只能包含字母、数字、_ . -（最多 40 个字符）")
        return value

    @field_validator("allowed_senders")
    @classmethod
    def _senders(cls, value: list[str]) -> list[str]:
        return [s.strip().lower() for s in value if s.strip()]

    @model_validator(mode="after")
    def _one_password_source(self) -> MailboxSettings:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("邮箱密码须由 password_env（环境变量名）或 password_file 之一给出")
        if not self.name:
            object.__setattr__(self, "name", f"{self.user}@{self.host}")
        if self.port is None:
            object.__setattr__(self, "port", 993 if self.tls == "tls" else 143)
        return self


def mailbox_password(mailbox: MailboxSettings) -> str:
    """The mailbox's password, read now from its environment variable or file.

    Raises:
        ConfigError: The variable is unset or the file unreadable (the password is never shown).
    """
    if mailbox.password_env is not None:
        value = os.environ.get(mailbox.password_env)
        if not value:
            raise ConfigError(
                f"邮箱 {mailbox.name} 的密码环境变量 {mailbox.password_env} 未设置",
                key="password_env",
                rule="missing",
            )
        return value
    assert mailbox.password_file is not None
    try:
        text = mailbox.password_file.expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"无法读取邮箱 {mailbox.name} 的密码文件 {mailbox.password_file}（{type(e).__name__}）",
            key="password_file",
            rule="unreadable",
        ) from e
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise ConfigError(
            f"邮箱 {mailbox.name} 的密码文件 {mailbox.password_file} 是空的",
            key="password_file",
            rule="empty",
        )
    return lines[0]
