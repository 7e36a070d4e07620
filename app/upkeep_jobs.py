"""Scheduled upkeep as plain functions (the flows in ``flows/`` wrap them; tests call them):
the weekly backup with rotation, the monthly upkeep report files, the value-tier refresh.

A backup goes into ``Settings.backup_dest`` (a folder, or ``s3://bucket/prefix``) under a name
made of the China date and time (``dossier-backup-20261206-030000``). A folder counts as a backup
once it holds ``manifest.json`` (written last); after a successful backup the complete ones
beyond ``backup_keep`` are deleted, oldest first, never the one just written. A failed backup
removes only what it wrote itself and raises :class:`app.errors.BackupFailedError`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.exc import SQLAlchemyError

from app.context import AppContext
from app.errors import BackupFailedError
from archive import backup as backups
from archive.storage import ObjectStore, store_from_settings
from archive.tiers import refresh_tiers
from archive.upkeep import upkeep_report, write_upkeep_xlsx
from config.clock import CHINA_TZ, china_date
from config.errors import ConfigurationError, DossierError
from models.user import Role, User

PREFIX = "dossier-backup-"
NAME_RE = re.compile(r"^dossier-backup-\d{8}-\d{6}(-\d+)?$")
SYSTEM_ACTOR = "system:upkeep"
_FAILURES = (DossierError, OSError, SQLAlchemyError, subprocess.SubprocessError)


def store_for(ctx: AppContext, url: str) -> ObjectStore:
    """A second store (``file:///…`` or ``s3://…``) with the instance's S3 endpoint settings."""
    return store_from_settings(ctx.settings, url=url)


def backup_name(now: datetime | None = None) -> str:
    """The folder name of a backup taken at ``now`` (China time)."""
    moment = (now or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ)
    return PREFIX + moment.strftime("%Y%m%d-%H%M%S")


def _local_folder(dest: str) -> Path | None:
    """The folder ``dest`` names, or None for an S3 destination."""
    parts = urlsplit(dest)
    if parts.scheme == "s3":
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return Path(dest).expanduser().absolute()


# --- a destination folder or an S3 prefix ---------------------------------------------------


class _Folder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def claim(self, name: str) -> bool:
        """Create the backup's folder; False when the name is taken (by another run too)."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            (self.root / name).mkdir()
        except FileExistsError:
            return False
        return True

    def complete(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if NAME_RE.match(p.name) and (p / backups.MANIFEST).is_file())  # fmt: skip

    def remove(self, name: str) -> None:
        shutil.rmtree(self.root / name, ignore_errors=True)

    def where(self, name: str) -> str:
        return str(self.root / name)


class _Bucket:
    def __init__(self, store: ObjectStore, url: str) -> None:
        self.store, self.url = store, url.rstrip("/")

    def _names(self) -> dict[str, set[str]]:
        names: dict[str, set[str]] = {}
        for info in self.store.iter_objects():
            name, _, rest = info.key.partition("/")
            if NAME_RE.match(name):
                names.setdefault(name, set()).add(rest)
        return names

    def claim(self, name: str) -> bool:
        return name not in self._names()

    def complete(self) -> list[str]:
        return sorted(n for n, files in self._names().items() if backups.MANIFEST in files)

    def remove(self, name: str) -> None:
        for info in list(self.store.iter_objects(prefix=name + "/")):
            self.store.delete(info.key)

    def upload(self, name: str, folder: Path) -> None:
        files = sorted(folder.iterdir(), key=lambda p: p.name == backups.MANIFEST)  # manifest last
        for path in files:
            self.store.put(f"{name}/{path.name}", path)

    def where(self, name: str) -> str:
        return f"{self.url}/{name}"


def _free_name(target: _Folder | _Bucket, now: datetime | None) -> str:
    base = name = backup_name(now)
    n = 1
    while not target.claim(name):
        n += 1
        name = f"{base}-{n}"
    return name


def _write(ctx: AppContext, target: _Folder | _Bucket, name: str, objects_to: str) -> dict:  # type: ignore[type-arg]
    copy_to = store_for(ctx, objects_to) if objects_to else None
    if isinstance(target, _Folder):
        return backups.backup(ctx.engine, ctx.store, target.root / name, copy_to=copy_to,
                              copy_to_url=objects_to or None, settings=ctx.settings)  # fmt: skip
    staging = Path(ctx.settings.work_dir or ctx.settings.home) / "backup-staging" / name  # type: ignore[operator]
    try:
        manifest = backups.backup(ctx.engine, ctx.store, staging, copy_to=copy_to,
                                  copy_to_url=objects_to or None,
                                  settings=ctx.settings)  # fmt: skip
        target.upload(name, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _failed(error: BaseException) -> BackupFailedError:
    detail = str(error) if isinstance(error, DossierError) else type(error).__name__
    return BackupFailedError(f"备份失败（{detail}）：已有的备份未改动")


def rotate(target: _Folder | _Bucket, keep: int, *, written: str) -> list[str]:
    """Delete the complete backups beyond the ``keep`` newest, never ``written``."""
    old = [n for n in target.complete()[:-keep] if n != written]
    for name in old:
        target.remove(name)
    return old


def run_backup(
    ctx: AppContext,
    *,
    dest: str | None = None,
    keep: int | None = None,
    objects_to: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Back the instance up into the configured destination and rotate; returns a summary.

    Raises:
        ConfigurationError: No destination is configured.
        BackupFailedError: The backup could not be written (older backups untouched).
    """
    s = ctx.settings
    dest = dest if dest is not None else s.backup_dest
    if not dest:
        raise ConfigurationError(
            "未配置备份位置：请设置 backup_dest（DOSSIER_BACKUP_DEST）或指定 DEST"
        )
    objects_to = objects_to if objects_to is not None else s.backup_objects_to
    folder = _local_folder(dest)
    target = _Folder(folder) if folder is not None else _Bucket(store_for(ctx, dest), dest)
    try:
        name = _free_name(target, now)
    except _FAILURES as e:
        raise _failed(e) from e
    try:
        manifest = _write(ctx, target, name, objects_to)
    except _FAILURES as e:
        target.remove(name)
        raise _failed(e) from e
    deleted = rotate(target, keep or s.backup_keep, written=name)
    return {
        "name": name,
        "location": target.where(name),
        "database_rows": sum(manifest["database"]["tables"].values()),
        "objects": len(manifest["objects"]),
        "copied": manifest["copied"],
        "objects_copied_to": manifest["objects_copied_to"],
        "kept": target.complete(),
        "deleted": deleted,
    }


def _write_atomic(path: Path, write: Any) -> None:
    part = path.with_name(path.name + ".part")
    write(part)
    os.replace(part, path)


def run_upkeep_report(ctx: AppContext, *, now: datetime | None = None) -> dict[str, Any]:
    """Write this month's upkeep report (XLSX and JSON) under ``reports_dir``; returns the
    files and the row count of each section. Runs with administrator sight (every customer)."""
    today = china_date(now)
    actor = User(username=SYSTEM_ACTOR, role=Role.ADMIN.value, is_active=True)
    with ctx.session() as session:
        report = upkeep_report(session, ctx.settings, actor, today=today)
    folder = Path(ctx.settings.reports_dir)  # type: ignore[arg-type]
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"upkeep-{today:%Y-%m}"
    xlsx, data = stem.with_suffix(".xlsx"), stem.with_suffix(".json")
    _write_atomic(xlsx, lambda p: write_upkeep_xlsx(p, report))
    text = json.dumps({"date": today.isoformat(), "sections": report}, ensure_ascii=False,
                      indent=1, default=str)  # fmt: skip
    _write_atomic(data, lambda p: p.write_text(text, encoding="utf-8"))
    counts = {key: len(rows) for key, rows in report.items()}
    return {"date": today.isoformat(), "xlsx": str(xlsx), "json": str(data), "counts": counts}


def run_tier_refresh(ctx: AppContext) -> dict[str, Any]:
    """Recompute every customer's value tier (and the level following it); audited."""
    with ctx.session() as session:
        changed = refresh_tiers(session, ctx.settings, actor=SYSTEM_ACTOR)
    return {"changed": changed}
