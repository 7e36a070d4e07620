"""Build what a command or flow needs from settings: the database engine and the object store."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.engine import Engine

from archive.storage import ObjectStore, make_store
from config import Settings, Taxonomy, load_settings
from models.db import make_engine, upgrade_to_head


@dataclass
class AppContext:
    """Settings plus lazily built engine and store; one per process entry point."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def store(self) -> ObjectStore:
        s = self.settings
        return make_store(
            storage_url=s.storage_url, s3_endpoint_url=s.s3_endpoint_url, s3_region=s.s3_region
        )

    @property
    def taxonomy(self) -> Taxonomy:
        return self.settings.taxonomy

    def initialize(self) -> None:
        """Create folders, migrate the database to head, create the bucket or folder."""
        self.settings.ensure_dirs()
        upgrade_to_head(self.engine)
        self.store.ensure_ready()


def app_context(**overrides: object) -> AppContext:
    return AppContext(settings=load_settings(**overrides))
