"""Handing a file in from any channel (web upload, API, e-mail): to the local intake folder, or,
when a shared S3 intake is configured (``intake_s3_url``), to its prefix, where any worker on
any machine pulls it (:mod:`app.s3_intake`).

The S3 layout: the file under ``<folder>/<uuid>/<name>`` (a fresh key per drop, so nothing is
ever overwritten; the intake names the file after the last segment), and its signed sidecar
(:mod:`ingest.intake.signed_sidecar`: submitter, hints, note, upload id) as the companion object
``.intake-sidecars/<file key>.json``, written and verified *before* the file: a puller that
sees the file always finds its sidecar. A failure after the sidecar removes it; a crash leaves
a sidecar without a file, which pullers ignore and delete after the claim timeout
(:func:`sweep_orphan_sidecars`). After filing, the puller deletes the file, then the sidecar.

The HMAC key is read from the environment variable ``intake_s3_secret_env`` names; web
processes and workers must share it. Without it sidecars are written unsigned and every object
is filed as an anonymous ``s3:<key>`` submission, its note saying why.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.errors import InvalidKeyError, ObjectNotFoundError
from archive.naming import sanitize_component
from archive.storage import ObjectInfo, ObjectStore, store_from_settings
from config import Settings
from config.errors import DossierError
from ingest.intake import drop_file, takeable_name
from ingest.intake.claims import utc_now
from ingest.intake.drop import Readable
from ingest.intake.sidecar import DropRecord
from ingest.intake.signed_sidecar import (
    MAX_SIDECAR_BYTES,
    SidecarCheck,
    check_sidecar,
    sign_sidecar,
)

log = logging.getLogger("dossier.intake_drop")

SIDECAR_DIR = ".intake-sidecars"  # ".dossier*" is reserved in a local store
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Dropped:
    """Where a handed-in file now waits: ``stored`` is its path inside the local intake, or
    ``s3:<key>`` in the shared S3 intake; ``name`` its file name."""

    name: str
    stored: str
    sha256: str | None = None


def intake_secret(settings: Settings) -> bytes | None:
    """The S3 intake's sidecar signing key (None: not configured)."""
    name = settings.intake_s3_secret_env
    value = os.environ.get(name, "") if name else ""
    return value.encode("utf-8") if value else None


def intake_store(settings: Settings) -> ObjectStore:
    """The S3 intake prefix's store (one per process and configuration), as
    :func:`archive.storage.store_from_settings` makes it for that prefix."""
    key = (
        settings.intake_s3_url,
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_connect_timeout_seconds,
        settings.s3_read_timeout_seconds,
        settings.s3_max_attempts,
    )
    store = _STORES.get(key)
    if store is None:
        store = _STORES[key] = store_from_settings(settings, url=settings.intake_s3_url)
    return store


#: The intake stores made so far, by their configuration (their S3 clients are reused).
_STORES: dict[tuple[object, ...], ObjectStore] = {}


def sidecar_key(key: str) -> str:
    """Where the companion sidecar of the object ``key`` lives."""
    return f"{SIDECAR_DIR}/{key}.json"


def is_sidecar_key(key: str) -> bool:
    return key.startswith(f"{SIDECAR_DIR}/")


def file_key_of(sidecar: str) -> str:
    """The object a sidecar key belongs to."""
    return sidecar[len(SIDECAR_DIR) + 1 : -len(".json")]


def hand_in(
    source: bytes | Readable | Path,
    name: str,
    *,
    settings: Settings,
    folder: str = "",
    submitted_by: str | None = None,
    customer_code: str | None = None,
    document_type: str | None = None,
    note: str | None = None,
    upload_id: str | None = None,
) -> Dropped:
    """Hand a file in: into ``intake_dir/folder``, or the S3 intake when one is configured."""
    hints = {"customer_code": customer_code, "document_type": document_type, "note": note}
    if not settings.intake_s3_url:
        target = Path(settings.intake_dir or "") / folder
        path = drop_file(source, name, target, submitted_by=submitted_by, **hints)
        return Dropped(path.name, str(path.relative_to(Path(settings.intake_dir or ""))))
    return _drop_s3(
        source, name, settings=settings, folder=folder, submitted_by=submitted_by,
        upload_id=upload_id, **hints,
    )  # fmt: skip


def _drop_s3(
    source: bytes | Readable | Path,
    name: str,
    *,
    settings: Settings,
    folder: str,
    submitted_by: str | None,
    upload_id: str | None,
    **hints: str | None,
) -> Dropped:
    """Spool the bytes (hashing them), put the signed sidecar, then the file (both verified)."""
    name = sanitize_component(takeable_name(name), max_bytes=200)  # a valid key segment
    key = "/".join(p for p in (folder, uuid.uuid4().hex, name) if p)
    store = intake_store(settings)
    Path(settings.work_dir or "").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=settings.work_dir) as spool:
        digest, size = _spool(source, spool)
        record = DropRecord(name, digest, size, submitted_by, utc_now(), **hints)
        body = sign_sidecar(
            record, key=key, folder=folder, upload_id=upload_id, secret=intake_secret(settings)
        )
        store.put(sidecar_key(key), io.BytesIO(body), content_type="application/json")
        try:
            spool.seek(0)
            store.put(key, spool, sha256=digest)  # type: ignore[arg-type]
        except BaseException:
            with contextlib.suppress(DossierError):
                store.delete(sidecar_key(key))
            raise
    log.info("handed in to the S3 intake: %s (%d bytes)", key, size)
    return Dropped(name, f"s3:{key}", digest)


def _spool(source: bytes | Readable | Path, out: object) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    write = out.write  # type: ignore[attr-defined]
    if isinstance(source, bytes):
        write(source)
        digest.update(source)
        return digest.hexdigest(), len(source)
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(source.open("rb")) if isinstance(source, Path) else source
        while chunk := stream.read(_CHUNK):
            write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# ---- reading sidecars (pullers and "my uploads") -----------------------------------------


def read_companion(
    store: ObjectStore, key: str, *, sha256: str, secret: bytes | None
) -> SidecarCheck:
    """The companion sidecar of object ``key`` checked against the file's bytes; never raises
    for a missing or unreadable one (a store fault propagates: the caller retries)."""
    try:
        with store.open(sidecar_key(key), verify=False) as stream:
            data = stream.read(MAX_SIDECAR_BYTES + 1)
    except (ObjectNotFoundError, InvalidKeyError):  # none (a key too long for one: none either)
        return SidecarCheck(False)
    if len(data) > MAX_SIDECAR_BYTES:
        return SidecarCheck(False, problem="附带的提交信息过大")
    return check_sidecar(data, key=key, sha256=sha256, secret=secret)


def sweep_orphan_sidecars(
    store: ObjectStore, listed: list[ObjectInfo], *, older_than: timedelta
) -> list[str]:
    """Delete sidecars whose file is not there and that are older than ``older_than`` (a crash
    between the sidecar and the file, or between deleting the file and its sidecar)."""
    files = {i.key for i in listed if not is_sidecar_key(i.key)}
    limit = datetime.now(UTC) - older_than
    removed = []
    for info in listed:
        if is_sidecar_key(info.key) and file_key_of(info.key) not in files:
            if _aware(info.last_modified) < limit:
                store.delete(info.key)
                removed.append(info.key)
    if removed:
        log.info("s3 intake: %d orphan sidecar(s) removed", len(removed))
    return removed


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def waiting_in_s3(settings: Settings, folder: str) -> Iterator[tuple[str, DropRecord]]:
    """The files under ``folder/`` of the S3 intake with a trusted sidecar (key, record)."""
    store, secret = intake_store(settings), intake_secret(settings)
    try:
        for info in store.iter_objects(f"{folder}/" if folder else ""):
            if is_sidecar_key(info.key):
                continue
            record = _record_if_signed(store, info.key, secret)
            if record is not None:
                yield info.key, record
    except DossierError as e:
        log.warning("s3 intake: cannot list waiting uploads: %s", e.message)


def _record_if_signed(store: ObjectStore, key: str, secret: bytes | None) -> DropRecord | None:
    """The record of ``key``'s sidecar when trusted, checked against the digest it names
    (the listing does not give the file's sha256; a later pull checks the bytes)."""
    try:
        with store.open(sidecar_key(key), verify=False) as stream:
            data = stream.read(MAX_SIDECAR_BYTES + 1)
    except (ObjectNotFoundError, InvalidKeyError):
        return None
    try:
        claimed = str(json.loads(data)["record"]["sha256"])
    except (ValueError, KeyError, TypeError):
        return None
    return check_sidecar(data, key=key, sha256=claimed, secret=secret).record


def mail_drop(settings: Settings) -> Callable[..., str] | None:
    """How the e-mail intake hands attachments in: None (the local intake) without an S3
    intake, else into the S3 intake's root with a signed sidecar (sender, subject)."""
    if not settings.intake_s3_url:
        return None

    def drop(data: bytes, name: str, *, submitted_by: str | None, note: str | None) -> str:
        return hand_in(data, name, settings=settings, submitted_by=submitted_by, note=note).name

    return drop


__all__ = [
    "SIDECAR_DIR",
    "Dropped",
    "hand_in",
    "intake_secret",
    "intake_store",
    "is_sidecar_key",
    "mail_drop",
    "read_companion",
    "sidecar_key",
    "sweep_orphan_sidecars",
    "waiting_in_s3",
]
