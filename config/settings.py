"""Settings, read once at the edge (CLI, flow, web app) and passed down.

Sources, highest priority first: keyword arguments, ``DOSSIER_*`` environment variables, a TOML
file (``DOSSIER_CONFIG``, else ``./dossier.toml``, else ``$DOSSIER_HOME/dossier.toml``), defaults.
The defaults make the product work with no setup: everything lives under one home folder.

Anything wrong (an unknown key, bad TOML, a value of the wrong type, a missing
``DOSSIER_CONFIG`` file, a database that is neither SQLite nor PostgreSQL) raises
:class:`config.errors.ConfigError` naming the file or variable, the key and the rule. Relative
paths (home, folders, the SQLite file) are taken against the working directory and stored
absolute, so the same settings hold in worker processes.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from config.clock import quiet_window
from config.config_file import (
    config_file_candidates,
    default_home,
    find_config_file,
    read_config_file,
    settings_error,
)
from config.mail import MailboxSettings
from config.taxonomy import Taxonomy, load_taxonomy

__all__ = ["DATABASE_SCHEMES", "Settings", "config_file_candidates", "load_settings"]

#: URL schemes of the databases dossier runs on (``postgres*`` use psycopg 3).
DATABASE_SCHEMES = (
    "sqlite",
    "sqlite+pysqlite",
    "postgresql",
    "postgres",
    "postgresql+psycopg",
    "postgresql+psycopg2",
)
_PATH_FIELDS = ("home", "intake_dir", "quarantine_dir", "work_dir", "taxonomy_file", "reports_dir")


def _absolute(path: Path) -> Path:
    return path.expanduser().absolute()


def check_database_url(url: str) -> str:
    """A supported database URL, a relative SQLite file made absolute (working directory).

    Raises:
        ValueError: Not a URL, or neither SQLite nor PostgreSQL (pydantic reports it).
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        shown = f"“{scheme}”" if scheme else "（不是 URL）"
        raise ValueError(
            f"不支持的数据库类型{shown}：应为 sqlite:///文件路径 或 postgresql://用户@主机/库名"
        )
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise ValueError("数据库 URL 格式错误") from e
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if database.startswith("file:") or Path(database).is_absolute():
        return url
    absolute = str(_absolute(Path(database)))
    return parsed.set(database=absolute).render_as_string(hide_password=False)


class Settings(BaseSettings):
    """All of dossier's settings. Environment variables are ``DOSSIER_`` + the upper-case name."""

    model_config = SettingsConfigDict(env_prefix="DOSSIER_", extra="forbid", frozen=True)

    # Where things live
    home: Path = Field(default_factory=default_home)
    database_url: str = ""  # default: sqlite:///<home>/dossier.db
    storage_url: str = ""  # default: file://<home>/archive ; or s3://bucket/prefix
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    # A storage server that stops answering becomes storage_unavailable within about
    # s3_max_attempts * (connect + read timeout) plus backoff (archive.storage.s3).
    s3_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    s3_read_timeout_seconds: float = Field(default=30.0, gt=0)
    s3_max_attempts: int = Field(default=3, ge=1, le=10)
    intake_dir: Path | None = None  # default: <home>/intake
    quarantine_dir: Path | None = None  # default: <home>/quarantine
    work_dir: Path | None = None  # default: <home>/work (claims in progress, temp files)
    taxonomy_file: Path | None = None

    # Ingestion
    review_policy: Literal["all", "anomalies"] = "all"
    settle_seconds: float = 5.0
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    file_timeout_seconds: float = 600.0
    memory_limit_mb: int = 3072
    max_file_mb: int = 200
    max_pages: int = 300
    max_image_pixels: int = 100_000_000
    target_dpi: int = 300
    ocr_languages: str = "chi_sim"  # measured: docs/benchmarks.md (OCR settings)
    ocr_psm: int = 4
    ocr_engine: Literal["tesseract", "rapidocr", "cascade"] = "cascade"  # docs/benchmarks.md
    ocr_min_confidence: float = 60.0
    ocr_text_layer_font: Path | None = None  # default: tesseract's pdf.ttf, found once

    # Shared S3 intake (app/s3_intake.py): every pass first pulls the objects under this prefix
    # (s3://bucket/prefix/, the store's endpoint and credentials) into the local intake, each
    # object by exactly one worker; a claim whose worker stopped beating is adopted after the
    # timeout. Empty: no S3 intake.
    intake_s3_url: str = ""
    intake_s3_claim_timeout_seconds: float = Field(default=900.0, gt=0)
    # Name of the variable holding the key that signs what uploads, the API and the e-mail intake
    # say about a file they put there (submitter, hints: app/intake_drop.py); web processes and
    # workers share it. None: such files are filed as anonymous "s3:<key>" submissions.
    intake_s3_secret_env: str | None = None

    # Checks and maintenance
    expiry_warning_days: int = 30
    review_stale_days: int = 7
    quarantine_stale_days: int = 14
    integrity_cron: str = "0 2 * * *"
    ingest_interval_seconds: int = 60
    # On SIGTERM/SIGINT an intake pass takes no new file and lets running ones finish this long;
    # what is still running then goes back to the intake (app/shutdown.py)
    shutdown_grace_seconds: float = Field(default=60.0, ge=0)
    scrub_days: int = 7
    # Scheduled upkeep under `dossier serve` (cron fields read in schedule_timezone)
    schedule_timezone: str = "Asia/Shanghai"
    backup_dest: str = ""  # a folder or s3://bucket/prefix; empty: no scheduled backup
    backup_objects_to: str = ""  # also copy the objects to this store (file:///... or s3://...)
    backup_cron: str = "0 3 * * 0"  # weekly, Sunday 03:00
    backup_keep: int = Field(default=8, ge=1)  # newest backups kept in backup_dest
    upkeep_cron: str = "0 8 1 * *"  # monthly upkeep report, the 1st at 08:00
    reports_dir: Path | None = None  # default: <home>/reports (upkeep XLSX and JSON)
    tier_refresh_cron: str = "30 1 * * *"  # nightly value-tier refresh
    notify_cron: str = "5 * * * *"  # notifications, hourly (a daily digest: "0 9 * * *")

    # E-mail intake (config/mail.py): IMAP mailboxes read every mail_interval_seconds
    mailboxes: list[MailboxSettings] = Field(default_factory=list)
    mail_interval_seconds: int = Field(default=300, ge=10)
    mail_timeout_seconds: float = Field(default=60.0, gt=0)

    # Notifications (app/notify): a license, ID or contract ending in these many days (and on
    # the day) is announced once per threshold, by e-mail (SMTP) and/or a signed webhook.
    expiry_notice_days: list[int] = Field(default_factory=lambda: [30, 7, 0])
    # "HH:MM-HH:MM" in China time (may span midnight): nothing is sent then, it waits
    notify_quiet_hours: str | None = None
    notify_email_to: list[str] = Field(default_factory=list)
    notify_digest: bool = False  # one e-mail per recipient and run listing every reminder
    smtp_host: str = ""  # empty: no e-mail
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: Literal["off", "starttls", "tls"] = "starttls"
    smtp_user: str | None = None
    smtp_password_env: str | None = None  # name of the variable holding the SMTP password
    smtp_from: str = "dossier@localhost"
    webhook_url: str = ""  # empty: no webhook
    webhook_secret_env: str | None = None  # HMAC-SHA256 key's variable; None: unsigned
    webhook_attempts: int = Field(default=4, ge=1, le=10)
    notify_timeout_seconds: float = Field(default=10.0, gt=0)
    # Beyond expiry: rejections, quarantined files and critical integrity runs of the last N
    # days are announced (older ones were before notifications existed); a customer still
    # missing a required document N days after it was created (0: never) reminds its owner.
    notify_lookback_days: int = Field(default=7, ge=1)
    checklist_notice_days: int = Field(default=14, ge=0)

    # Customer file: value tiers (价值层级) from the annual amount in 元, and whether the level
    # (客户等级) follows the tier (models.customer_fields.DEFAULT_TIER_LEVELS) unless overridden.
    tier_high_min: Decimal = Field(default=Decimal("500000"), ge=0)
    tier_mid_min: Decimal = Field(default=Decimal("100000"), ge=0)
    level_follows_tier: bool = True

    # Web
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    secret_key: str = ""  # generated into <home>/secret_key when empty
    # Secure cookies + HSTS; None: on unless the web host is 127.0.0.1/localhost/::1 (TLS assumed)
    web_secure_cookies: bool | None = None
    # Server-side sessions: signed out after this long without a request (sliding) and, at the
    # latest, this long after signing in (web/sessions.py)
    web_session_idle_minutes: int = Field(default=480, ge=1)
    web_session_max_hours: int = Field(default=168, ge=1)
    # REST API (/api/v1): requests per minute per token (or per signed-in user); 0: no limit
    api_rate_limit_per_minute: int = Field(default=300, ge=0)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except PydanticValidationError as e:
            raise settings_error(e, init_keys=set(values), config_file=find_config_file()) from e

    @field_validator(*_PATH_FIELDS, mode="after")
    @classmethod
    def _absolute_path(cls, value: Path | None) -> Path | None:
        return None if value is None else _absolute(value)

    @field_validator("notify_quiet_hours", mode="after")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        if value:
            quiet_window(value)  # raises ValueError with the rule
        return value or None

    @field_validator("database_url", mode="after")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value) if value else value

    @field_validator("schedule_timezone", mode="after")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"未知的时区“{value}”：应为 IANA 名称，如 Asia/Shanghai") from e
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        home = _absolute(Path(self.home))
        fill = {
            "home": home,
            "database_url": self.database_url or f"sqlite:///{home / 'dossier.db'}",
            "storage_url": self.storage_url or (home / "archive").as_uri(),
            "intake_dir": self.intake_dir or home / "intake",
            "quarantine_dir": self.quarantine_dir or home / "quarantine",
            "work_dir": self.work_dir or home / "work",
            "reports_dir": self.reports_dir or home / "reports",
        }
        for name, value in fill.items():
            object.__setattr__(self, name, value)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = find_config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file is not None:
            values = read_config_file(config_file, known=settings_cls.model_fields)
            sources.append(InitSettingsSource(settings_cls, init_kwargs=values))
        return tuple(sources)

    @property
    def taxonomy(self) -> Taxonomy:
        return load_taxonomy(self.taxonomy_file)

    def ensure_dirs(self) -> None:
        """Create the local folders the product uses (idempotent)."""
        for d in (self.home, self.intake_dir, self.quarantine_dir, self.work_dir):
            Path(d).mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings once; pass the result down explicitly."""
    return Settings(**overrides)  # type: ignore[arg-type]
