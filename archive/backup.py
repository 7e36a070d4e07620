"""Backup and restore of a whole instance: a consistent database snapshot plus every object.

``backup`` writes into a folder: the database (SQLite through the online backup API, PostgreSQL
through ``pg_dump`` in the snapshot the row counts were taken in, or without ``pg_dump`` the
logical dump of :mod:`archive.backup_logical`), and ``manifest.json`` with the
schema revision, every table's row count and every object's key, size and SHA-256 - written
last, so a folder without it is an unfinished backup. Objects may be copied to a second store (a
local folder or another S3 bucket), incrementally: an object already there with the same
SHA-256 is not copied again.

``restore`` refuses an instance that holds any row or object, loads the snapshot, copies the
objects back (each verified against its SHA-256) and checks every table's row count.

Given the instance's settings, a backup also holds the configuration that defines it (taxonomy,
understanding rules, non-secret settings; :mod:`archive.backup_config`), and a restore reports
how the restored instance's configuration differs from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from archive import backup_config, backup_logical
from archive.errors import RestoreRefusedError, StorageError
from archive.storage import ObjectStore
from config.settings import Settings
from models.db import current_revision, head_revision, upgrade_to_head, utcnow

FORMAT = "dossier-backup/1"
MANIFEST = "manifest.json"
LOGICAL_FILE = "database.jsonl.gz"
SKIP_TABLES = ("alembic_version",)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _counts(connection: Connection) -> dict[str, int]:
    names = sorted(n for n in sa.inspect(connection).get_table_names() if n not in SKIP_TABLES)
    quote = connection.dialect.identifier_preparer.quote
    return {n: int(connection.execute(sa.text(f"SELECT count(*) FROM {quote(n)}")).scalar_one())
            for n in names}  # fmt: skip


# --- the database ----------------------------------------------------------------------------


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment carrying it."""
    url = engine.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise StorageError(f"未找到 {name}：备份与恢复 PostgreSQL 需要安装 PostgreSQL 客户端工具")
    return found


def _snapshot_sqlite(engine: Engine, target: Path) -> dict[str, int]:
    raw = engine.raw_connection()
    try:
        out = sqlite3.connect(target)
        try:
            raw.driver_connection.backup(out)  # type: ignore[union-attr]
        finally:
            out.close()
    finally:
        raw.close()
    snap = sa.create_engine(f"sqlite:///{target}")
    try:
        with snap.connect() as connection:
            return _counts(connection)
    finally:
        snap.dispose()


def _snapshot_postgresql(engine: Engine, dest: Path) -> tuple[Path, dict[str, int]]:
    """pg_dump (else the logical dump) in the snapshot the counts are read in (one state)."""
    url, env = _libpq(engine)
    with engine.connect() as connection:
        connection.execute(sa.text("BEGIN ISOLATION LEVEL REPEATABLE READ"))
        snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
        counts = _counts(connection)
        if shutil.which("pg_dump") is None:
            target = dest / LOGICAL_FILE
            backup_logical.dump(connection, target)
            connection.rollback()
            return target, counts
        target = dest / "database.pgdump"
        subprocess.run(
            [_tool("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={snapshot}",
             f"--file={target}", url],
            env=env, check=True, capture_output=True, timeout=3600,
        )  # fmt: skip
        connection.rollback()
    return target, counts


def _snapshot(engine: Engine, dest: Path) -> dict[str, Any]:
    dialect = engine.dialect.name
    if dialect == "sqlite":
        target = dest / "database.sqlite3"
        counts = _snapshot_sqlite(engine, target)
    elif dialect == "postgresql":
        target, counts = _snapshot_postgresql(engine, dest)
    else:
        raise StorageError(f"不支持备份此数据库：{dialect}")
    return {"dialect": dialect, "file": target.name, "size": target.stat().st_size,
            "sha256": _sha256_file(target), "tables": counts}  # fmt: skip


# --- objects ---------------------------------------------------------------------------------


def _copy_object(source: ObjectStore, target: ObjectStore, key: str, sha256: str) -> bool:
    """Copy one object unless ``target`` already holds these bytes; True when copied."""
    if target.holding(key, sha256=sha256) is not None:
        return False
    info = source.head(key)
    with source.open(key, verify=True) as stream:
        target.put(key, stream, content_type=info.content_type or "application/octet-stream",
                   metadata=dict(info.metadata), sha256=sha256)  # fmt: skip
    return True


def _objects(store: ObjectStore, copy_to: ObjectStore | None) -> tuple[list[dict], int]:  # type: ignore[type-arg]
    entries, copied = [], 0
    for listed in store.iter_objects():
        info = store.head(listed.key)
        sha256 = store.digest_of(info)
        if sha256 is None:  # gone since it was listed
            continue
        entries.append({"key": info.key, "size": info.size, "sha256": sha256})
        if copy_to is not None and _copy_object(store, copy_to, info.key, sha256):
            copied += 1
    return entries, copied


def backup(
    engine: Engine,
    store: ObjectStore,
    dest: Path,
    *,
    copy_to: ObjectStore | None = None,
    copy_to_url: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Back the instance up into the folder ``dest``; returns the manifest.

    ``settings``: also keep the instance's configuration files (:mod:`archive.backup_config`).

    Raises:
        RestoreRefusedError: ``dest`` already holds a backup.
        StorageError: pg_dump is missing or a store failed.
    """
    dest = Path(dest)
    if (dest / MANIFEST).exists():
        raise RestoreRefusedError(f"目标文件夹已有备份：{dest}（请换一个空文件夹）")
    dest.mkdir(parents=True, exist_ok=True)
    database = _snapshot(engine, dest)
    config = backup_config.save(settings, dest) if settings is not None else []
    if copy_to is not None:
        copy_to.ensure_ready()
    objects, copied = _objects(store, copy_to)
    manifest = {
        "format": FORMAT,
        "created_at": utcnow().isoformat(),
        "schema_revision": current_revision(engine),
        "database": database,
        "config": config,
        "objects": objects,
        "objects_copied_to": copy_to_url,
        "copied": copied,
        "skipped": len(objects) - copied if copy_to is not None else 0,
    }
    part = dest / (MANIFEST + ".part")
    part.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(part, dest / MANIFEST)
    return manifest


# --- restore ---------------------------------------------------------------------------------


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of the backup in ``src``, its database file checked against its SHA-256."""
    path = Path(src) / MANIFEST
    if not path.is_file():
        raise RestoreRefusedError(f"{src} 中没有 {MANIFEST}：不是完整的备份")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise RestoreRefusedError(f"备份格式不支持：{manifest.get('format')}")
    db_file = Path(src) / manifest["database"]["file"]
    if not db_file.is_file() or _sha256_file(db_file) != manifest["database"]["sha256"]:
        raise RestoreRefusedError(f"备份的数据库文件缺失或已损坏：{db_file.name}")
    return manifest


def refuse_non_empty(engine: Engine, store: ObjectStore) -> None:
    """Refuse to restore over an instance holding any row (beyond the schema) or object."""
    with engine.connect() as connection:
        # SQLite's full-text index keeps its own configuration rows in an empty database.
        used = {n: c for n, c in _counts(connection).items() if c and "_fts" not in n}
    if used:
        shown = "、".join(f"{n} {c} 行" for n, c in sorted(used.items())[:5])
        raise RestoreRefusedError(f"目标数据库不是空的（{shown}）：只能恢复到空实例")
    for info in store.iter_objects():
        raise RestoreRefusedError(f"目标存储不是空的（已有对象 {info.key}）：只能恢复到空实例")


def _load_sqlite(engine: Engine, snapshot: Path) -> None:
    source = sqlite3.connect(snapshot)
    raw = engine.raw_connection()
    try:
        source.backup(raw.driver_connection)  # type: ignore[arg-type]
    finally:
        raw.close()
        source.close()
    engine.dispose()


def _load_postgresql(engine: Engine, dump: Path) -> None:
    url, env = _libpq(engine)
    engine.dispose()
    done = subprocess.run(
        [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
         f"--dbname={url}", str(dump)],
        env=env, capture_output=True, timeout=3600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise RestoreRefusedError(f"pg_restore 失败：{' '.join(tail)}")


def _load_logical(engine: Engine, dump: Path, revision: str | None) -> None:
    if revision != head_revision():
        raise RestoreRefusedError(
            f"逻辑备份的数据库结构版本为 {revision}，本版本为 {head_revision()}："
            "请用生成该备份的 dossier 版本恢复"
        )
    upgrade_to_head(engine)
    backup_logical.load(engine, dump)


def restore(
    engine: Engine,
    store: ObjectStore,
    src: Path,
    *,
    objects_from: ObjectStore | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Restore the backup in ``src`` into the empty instance ``engine`` + ``store``.

    Objects come from ``objects_from`` (the second store the backup copied them to). Given the
    restored instance's ``settings``, its configuration is compared with the backup's (never
    overwritten, see :mod:`archive.backup_config`).

    Returns:
        ``{"tables": counts, "objects": n, "schema_revision": ..., "config": [...]}``.

    Raises:
        RestoreRefusedError: Not empty, incomplete or damaged backup, counts that differ.
    """
    manifest = read_manifest(src)
    config = manifest.get("config", [])
    backup_config.verify(src, config)
    store.ensure_ready()
    refuse_non_empty(engine, store)
    if manifest["objects"] and objects_from is None:
        raise RestoreRefusedError("备份含对象，请指定对象所在的存储（--objects-from）")
    db = manifest["database"]
    if db["dialect"] != engine.dialect.name:
        raise RestoreRefusedError(f"备份来自 {db['dialect']}，不能恢复到 {engine.dialect.name}")
    snapshot = Path(src) / db["file"]
    if db["file"] == LOGICAL_FILE:
        _load_logical(engine, snapshot, manifest["schema_revision"])
    else:
        (_load_sqlite if db["dialect"] == "sqlite" else _load_postgresql)(engine, snapshot)
    with engine.connect() as connection:
        counts = _counts(connection)
    if counts != db["tables"]:
        differ = sorted(n for n in set(counts) | set(db["tables"])
                        if counts.get(n) != db["tables"].get(n))  # fmt: skip
        raise RestoreRefusedError(f"恢复后的行数与备份不一致：{'、'.join(differ)}")
    for entry in manifest["objects"]:
        _copy_object(objects_from, store, entry["key"], entry["sha256"])  # type: ignore[arg-type]
    compared = backup_config.compare(settings, src, config) if settings is not None else []
    return {"tables": counts, "objects": len(manifest["objects"]),
            "schema_revision": manifest["schema_revision"], "config": compared}  # fmt: skip
