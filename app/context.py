"""Build what a command or flow needs from settings: the database engine and the object store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlmodel import Session

from app.errors import DatabaseUnavailableError, SchemaOutdatedError
from archive.storage import ObjectStore, store_from_settings
from config import Settings, Taxonomy, load_settings
from models.db import (
    current_revision,
    head_revision,
    make_engine,
    session_scope,
    upgrade_to_head,
)

_DB_ERRORS = (OperationalError, DBAPIError, ArgumentError, NoSuchModuleError, OSError)


@dataclass
class AppContext:
    """Settings plus lazily built engine and store; one per process entry point."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        try:
            return make_engine(self.settings.database_url)
        except _DB_ERRORS as e:
            raise DatabaseUnavailableError(
                f"无法使用数据库地址（{type(e).__name__}）：请检查 database_url"
            ) from e

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits at the end of the block and rolls back on an exception."""
        with session_scope(self.engine) as session:
            yield session

    def require_current_schema(self) -> None:
        """Refuse to work on a database that is not migrated to this version's schema."""
        try:
            current = current_revision(self.engine)
        except _DB_ERRORS as e:
            raise DatabaseUnavailableError(self._unreachable()) from e
        if current != head_revision():
            raise SchemaOutdatedError(
                f"数据库结构版本为 {current or '空'}，需要 {head_revision()}：请先运行 dossier init"
            )

    def _unreachable(self) -> str:
        where = self.engine.url.render_as_string(hide_password=True)
        return f"无法连接数据库 {where}：请确认数据库已启动且地址正确"

    @cached_property
    def store(self) -> ObjectStore:
        return store_from_settings(self.settings)

    @property
    def taxonomy(self) -> Taxonomy:
        return self.settings.taxonomy

    def initialize(self) -> None:
        """Create folders, migrate the database to head, create the bucket or folder."""
        self.settings.ensure_dirs()
        try:
            upgrade_to_head(self.engine)
        except _DB_ERRORS as e:
            raise DatabaseUnavailableError(self._unreachable()) from e
        self.store.ensure_ready()


def app_context(*, check_schema: bool = True, **overrides: object) -> AppContext:
    """Settings and lazily built services for one command; checks the schema is current."""
    ctx = AppContext(settings=load_settings(**overrides))
    if check_schema:
        ctx.require_current_schema()
    return ctx
