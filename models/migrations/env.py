"""Alembic environment for dossier, run programmatically (no alembic.ini).

``models.db.upgrade_to_head`` passes an open connection in ``config.attributes["connection"]``.
For development, ``sqlalchemy.url`` may be set on the config instead.
"""

from __future__ import annotations

from alembic import context

from models.db import load_all_tables, make_engine

config = context.config
target_metadata = load_all_tables()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("dossier migrations run online only (models.db.upgrade_to_head)")
run_migrations_online()
