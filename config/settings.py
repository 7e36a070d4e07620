"""Settings, read once at the edge (CLI, flow, web app) and passed down.

Sources, highest priority first: keyword arguments, ``DOSSIER_*`` environment variables, a TOML
file (``DOSSIER_CONFIG``, else ``./dossier.toml``, else ``$DOSSIER_HOME/dossier.toml``), defaults.
The defaults make the product work with no setup: everything lives under one home folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from config.taxonomy import Taxonomy, load_taxonomy


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dossier"


def config_file_candidates() -> list[Path]:
    """TOML files considered, in order; the first that exists is read."""
    explicit = os.environ.get("DOSSIER_CONFIG")
    if explicit:
        return [Path(explicit)]
    home = Path(os.environ.get("DOSSIER_HOME") or _default_home())
    return [Path.cwd() / "dossier.toml", home / "dossier.toml"]


class Settings(BaseSettings):
    """All of dossier's settings. Environment variables are ``DOSSIER_`` + the upper-case name."""

    model_config = SettingsConfigDict(env_prefix="DOSSIER_", extra="ignore", frozen=True)

    # Where things live
    home: Path = Field(default_factory=_default_home)
    database_url: str = ""  # default: sqlite:///<home>/dossier.db
    storage_url: str = ""  # default: file://<home>/archive ; or s3://bucket/prefix
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
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

    # Checks and maintenance
    expiry_warning_days: int = 30
    review_stale_days: int = 7
    quarantine_stale_days: int = 14
    integrity_cron: str = "0 2 * * *"
    ingest_interval_seconds: int = 60
    scrub_days: int = 7

    # Web
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    secret_key: str = ""  # generated into <home>/secret_key when empty
    # Secure cookies + HSTS; None: on unless the web host is 127.0.0.1/localhost/::1 (TLS assumed)
    web_secure_cookies: bool | None = None

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        home = Path(self.home).expanduser()
        fill = {
            "home": home,
            "database_url": self.database_url or f"sqlite:///{home / 'dossier.db'}",
            "storage_url": self.storage_url or (home / "archive").as_uri(),
            "intake_dir": self.intake_dir or home / "intake",
            "quarantine_dir": self.quarantine_dir or home / "quarantine",
            "work_dir": self.work_dir or home / "work",
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
        toml_file = next((p for p in config_file_candidates() if p.is_file()), None)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
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
