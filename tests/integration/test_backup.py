"""Backup and restore (issue 17): SQLite + local folder and PostgreSQL + S3 (moto), restored into
a fresh database and another bucket; every row and object equal, the integrity check clean."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from archive.backup import backup, restore
from archive.errors import RestoreRefusedError
from archive.storage import LocalObjectStore, ObjectStore
from models.db import make_engine, upgrade_to_head
from tests.fixtures.db import _pg_url, create_pg_database, drop_pg_database
from tests.fixtures.s3 import make_test_s3_store
from tests.integration.test_integrity import build_clean_archive, check, kinds


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in primary-key order (the alembic table included)."""
    out = {}
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        for name in sorted(inspector.get_table_names()):
            table = sa.Table(name, sa.MetaData(), autoload_with=connection)
            order = list(table.primary_key.columns) or list(table.columns)
            out[name] = [tuple(r) for r in connection.execute(sa.select(table).order_by(*order))]
    return out


def _objects(store: ObjectStore) -> dict[str, str]:
    return {i.key: store.sha256_of(i.key) for i in store.iter_objects()}


@pytest.fixture
def second(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The restore target (an empty database and store) and the backup's object store."""
    if request.param == "sqlite-local":
        target = make_engine(f"sqlite:///{tmp_path / 'restored.db'}")
        upgrade_to_head(target)  # a `dossier init`-ed, empty instance
        yield {"engine": target, "store": LocalObjectStore(tmp_path / "restored-objects"),
               "copy_to": LocalObjectStore(tmp_path / "backup-objects"),
               "source_store": LocalObjectStore(tmp_path / "objects"),
               "name": request.param}  # fmt: skip
        target.dispose()
        return
    endpoint = request.getfixturevalue("s3_endpoint_url")
    client = request.getfixturevalue("s3_client")
    buckets = [f"dossier-bk-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    for b in buckets:
        client.create_bucket(Bucket=b)
    name = create_pg_database()
    target = make_engine(_pg_url(name))
    if request.param.endswith("-logical"):  # a server without pg_dump: the logical dump
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    if request.param.endswith("-init"):
        upgrade_to_head(target)  # `dossier init`-ed first: tables exist, all empty
    stores = [
        make_test_s3_store(endpoint_url=endpoint, bucket=b, prefix="dossier") for b in buckets
    ]
    try:
        yield {"engine": target, "source_store": stores[0], "copy_to": stores[1],
               "store": stores[2], "name": request.param}  # fmt: skip
    finally:
        target.dispose()
        drop_pg_database(name)


@pytest.mark.parametrize(
    ("db_url", "second"),
    [
        ("sqlite", "sqlite-local"),
        ("postgresql", "postgresql-s3"),
        ("postgresql", "pg-s3-init"),
        ("postgresql", "pg-s3-logical"),
    ],
    indirect=True,
)
def test_backup_restores_every_row_and_object(engine, second, tmp_path):
    source_store = second["source_store"]
    source_store.ensure_ready()
    arc = build_clean_archive(engine, source_store)
    assert kinds(check(arc)) == []
    manifest = backup(engine, source_store, tmp_path / "bk", copy_to=second["copy_to"])
    assert manifest["copied"] == len(manifest["objects"]) == 12
    assert manifest["database"]["tables"]["customer"] == 2
    logical = manifest["database"]["file"] == "database.jsonl.gz"
    assert logical == str(second["name"]).endswith("-logical")
    again = backup(engine, source_store, tmp_path / "bk2", copy_to=second["copy_to"])
    assert (again["copied"], again["skipped"]) == (0, 12)  # incremental by sha256
    with pytest.raises(RestoreRefusedError, match="已有备份"):
        backup(engine, source_store, tmp_path / "bk")

    target, target_store = second["engine"], second["store"]
    result = restore(target, target_store, tmp_path / "bk", objects_from=second["copy_to"])
    assert result["objects"] == 12
    assert _rows(target) == _rows(engine)
    assert _objects(target_store) == _objects(source_store)
    arc.engine, arc.store = target, target_store
    assert kinds(check(arc)) == []
    with pytest.raises(RestoreRefusedError, match="不是空的"):
        restore(target, target_store, tmp_path / "bk", objects_from=second["copy_to"])


def test_damaged_or_incomplete_backup_is_refused(engine, tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    backup(engine, store, tmp_path / "bk")
    target = make_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    empty = LocalObjectStore(tmp_path / "restored")
    with pytest.raises(RestoreRefusedError, match="manifest"):
        restore(target, empty, tmp_path)
    (snapshot,) = [p for p in (tmp_path / "bk").iterdir() if p.name.startswith("database.")]
    snapshot.write_bytes(snapshot.read_bytes()[:-1] + b"!")
    with pytest.raises(RestoreRefusedError, match="损坏"):
        restore(target, empty, tmp_path / "bk")
    target.dispose()
