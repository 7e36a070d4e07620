"""Build what a command or flow needs from settings: the database engine and the object store."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.engine import Engine

from archive.storage import ObjectStore, store_from_settings
from config import Settings, Taxonomy, load_settings
from config.errors import ConfigurationError
from models.db import current_revision, head_revision, make_engine, upgrade_to_head


@dataclass
class AppContext:
    """Settings plus lazily built engine and store; one per process entry point."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    def require_current_schema(self) -> None:
        """Refuse to work on a database that is not migrated to this version's schema."""
        current = current_revision(self.engine)
        if current != head_revision():
            raise ConfigurationError(
                f"数据库结构版本为 {current or '空'}，需要 {head_revision()}：请先运行 dossier init"
                " (database schema is not at head; run `dossier init`)"
            )

    @cached_property
    def store(self) -> ObjectStore:
        return store_from_settings(self.settings)

    @property
    def taxonomy(self) -> Taxonomy:
        return self.settings.taxonomy

    def initialize(self) -> None:
        """Create folders, migrate the database to head, create the bucket or folder."""
        self.settings.ensure_dirs()
        upgrade_to_head(self.engine)
        self.store.ensure_ready()


def app_context(*, check_schema: bool = True, **overrides: object) -> AppContext:
    """Settings and lazily built services for one command; checks the schema is current."""
    ctx = AppContext(settings=load_settings(**overrides))
    if check_schema:
        ctx.require_current_schema()
    return ctx
