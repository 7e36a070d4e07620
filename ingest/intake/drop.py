"""Dropping a file into the intake: the one way every channel (web upload, scripts) hands in.

:func:`drop_file` writes the bytes under a hidden temporary name in the target folder (which
the intake ignores), makes the name takeable (:func:`takeable_name`: the intake's own ignore
rule, :func:`~ingest.intake.scan.is_ignored_name`), and links the file into place under the
first free name together with a sidecar recording the submitter
(:func:`~ingest.intake.sidecar.link_with_sidecar`). Nothing is ever overwritten; two racing
drops of one name both survive under distinct names; a failed drop leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import BinaryIO, Protocol

from ingest.fsutil import QUARANTINE_RECORD_SUFFIX, fsync_dir
from ingest.intake.claims import utc_now
from ingest.intake.scan import TEMPORARY_SUFFIXES, is_ignored_name
from ingest.intake.sidecar import DropRecord, link_with_sidecar

CHUNK = 1024 * 1024
FALLBACK_NAME = "upload"


class Readable(Protocol):
    """Anything with a binary ``read`` (a file, an upload's stream, a size-limiting wrapper)."""

    def read(self, size: int = -1, /) -> bytes: ...


def takeable_name(name: str) -> str:
    """``name`` changed as little as needed for the intake to take it.

    Leading dots and Office's ``~$`` lock prefix are removed; a temporary or quarantine-record
    ending (``.part``, ``.tmp``, ``.crdownload``, ``.error.json``) gets a trailing ``_``.

    Raises:
        ValueError: ``name`` holds a folder separator or NUL (callers sanitize names first).
    """
    if "/" in name or "\0" in name:
        raise ValueError(f"not a plain file name: {name!r}")
    taken = name
    while taken and is_ignored_name(taken):
        if taken.startswith("."):
            taken = taken.lstrip(".")
        elif taken.startswith("~$"):
            taken = taken[2:]
        elif taken.lower().endswith((*TEMPORARY_SUFFIXES, QUARANTINE_RECORD_SUFFIX)):
            taken += "_"
    return taken or FALLBACK_NAME


def drop_file(
    source: bytes | Readable | Path,
    name: str,
    folder: Path | str,
    *,
    submitted_by: str | None = None,
    customer_code: str | None = None,
    document_type: str | None = None,
    note: str | None = None,
) -> Path:
    """Hand a file in: write it into ``folder`` (the intake or a sub-folder) under a free name.

    Args:
        source: The bytes, a binary stream (read to its end in chunks), or a file to copy.
        name: The wanted file name (no folders); see :func:`takeable_name`.
        folder: The intake folder or a folder inside it (created if missing).
        submitted_by: Username of whoever hands the file in; recorded in the sidecar and
            carried by the claim into the document's ``submitted_by``.
        customer_code: The submitter's hint of the customer, kept in the sidecar.
        document_type: The submitter's hint of the document type, kept in the sidecar.
        note: What came with the file (an e-mail's subject), kept in the sidecar.

    Returns:
        Where the file now is: ``name``, else ``<stem>-2<suffix>``, ``-3``, ...

    Raises:
        ValueError: ``name`` is not a plain file name.
        Whatever reading ``source`` raises; the partial file is removed first.
    """
    wanted = Path(folder) / takeable_name(name)
    wanted.parent.mkdir(parents=True, exist_ok=True)
    temp = wanted.parent / f".drop-{uuid.uuid4().hex}.part"
    try:
        digest, size = _write_temp(source, temp)
        record = DropRecord(
            name=wanted.name,
            sha256=digest,
            size=size,
            submitted_by=submitted_by,
            dropped_at=utc_now(),
            customer_code=customer_code,
            document_type=document_type,
            note=note,
        )
        final = link_with_sidecar(temp, wanted, record)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(final.parent)
    return final


def _write_temp(source: bytes | Readable | Path, temp: Path) -> tuple[str, int]:
    """Write ``source`` to ``temp`` (created exclusively), fsync it; its sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    with temp.open("xb") as out:
        if isinstance(source, bytes):
            out.write(source)
            digest.update(source)
            size = len(source)
        elif isinstance(source, Path):
            with source.open("rb") as fh:
                size = _copy(fh, out, digest)
        else:
            size = _copy(source, out, digest)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def _copy(src: Readable, out: BinaryIO, digest: hashlib._Hash) -> int:
    size = 0
    while chunk := src.read(CHUNK):
        out.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    return size


__all__ = ["drop_file", "takeable_name"]
