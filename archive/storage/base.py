"""The object store interface shared by the local-folder and S3 backends.

Stores accept keys built by :mod:`archive.naming` and never compute them. Every ``put`` hashes
what it writes (SHA-256), verifies the stored bytes against that hash and raises
:class:`~archive.errors.ChecksumMismatchError` (leaving no object behind) when they differ.

The reserved metadata entry ``sha256`` always holds the hex digest of the stored bytes.
"""

from __future__ import annotations

import hashlib
import io
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from archive.errors import ChecksumMismatchError, ObjectNotFoundError

CHUNK_SIZE = 1024 * 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"
SHA256_METADATA_KEY = "sha256"

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_METADATA_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")

Source = Path | BinaryIO


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object.

    ``sha256``, ``content_type`` and ``metadata`` come from ``head``; listings
    (``iter_objects``) fill only key, size and last_modified and leave the others unknown;
    an S3 listing also fills ``etag`` (which changes whenever the object is written again).
    """

    key: str
    size: int
    last_modified: datetime
    sha256: str | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None


def check_sha256(value: str | None) -> str | None:
    """Normalize a hex SHA-256 (lower case); ValueError if it is not 64 hex digits."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if not _SHA256_HEX.fullmatch(lowered):
        raise ValueError(f"not a SHA-256 hex digest: {value!r}")
    return lowered


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Validate user metadata names (``[a-z0-9][a-z0-9-]*``, at most 64) and string values."""
    result: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        if not isinstance(name, str) or not _METADATA_NAME.fullmatch(name):
            raise ValueError(f"metadata name must match [a-z0-9][a-z0-9-]*: {name!r}")
        if not isinstance(value, str):
            raise ValueError(f"metadata value for {name!r} must be a string")
        result[name] = value
    return result


def expected_sha256(*, sha256: str | None, metadata: Mapping[str, str]) -> str | None:
    """The digest a caller expects, from the ``sha256`` argument or ``metadata['sha256']``.

    Raises:
        ValueError: The two are given and differ, or one is not a hex digest.
    """
    given = check_sha256(sha256)
    in_meta = check_sha256(metadata.get(SHA256_METADATA_KEY))
    if given and in_meta and given != in_meta:
        raise ValueError("sha256 argument and metadata['sha256'] differ")
    return given or in_meta


def mismatch(key: str, *, expected: str, actual: str) -> ChecksumMismatchError:
    """A ChecksumMismatchError naming the key and both digests."""
    return ChecksumMismatchError(
        f"校验和不一致: {key}", key=key, expected_sha256=expected, actual_sha256=actual
    )


def copy_hashing(src: BinaryIO, dst: BinaryIO) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` in chunks; return (sha256 hex, bytes copied)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := src.read(CHUNK_SIZE):
        digest.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    """SHA-256 hex digest and size of the rest of ``stream``."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class VerifyingReader(io.RawIOBase):
    """A read-only stream that hashes what passes through and checks the digest at the end.

    When the underlying stream is exhausted and ``expected`` is known, a differing digest
    raises :class:`ChecksumMismatchError` from ``read``. Partial reads are not checked.
    """

    def __init__(self, raw: BinaryIO, *, key: str, expected: str | None) -> None:
        super().__init__()
        self._raw = raw
        self._key = key
        self._expected = expected
        self._digest = hashlib.sha256()
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        if data:
            self._digest.update(data)
            buffer[: len(data)] = data
            return len(data)
        self._finish()
        return 0

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        actual = self._digest.hexdigest()
        if self._expected is not None and actual != self._expected:
            raise mismatch(self._key, expected=self._expected, actual=actual)

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


def verifying_reader(raw: BinaryIO, *, key: str, expected: str | None) -> BinaryIO:
    """Wrap ``raw`` in a buffered :class:`VerifyingReader`."""
    reader = io.BufferedReader(VerifyingReader(raw, key=key, expected=expected), CHUNK_SIZE)
    return reader  # type: ignore[return-value]


class ObjectStore(ABC):
    """A flat namespace of immutable-once-written objects addressed by UTF-8 keys."""

    #: Longest key (UTF-8 bytes) this store accepts, after its own prefix is accounted for.
    max_key_bytes: int = 1024

    @abstractmethod
    def put(
        self,
        key: str,
        source: Source,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: dict[str, str] | None = None,
        sha256: str | None = None,
    ) -> ObjectInfo:
        """Store ``source`` (a file path or a readable binary stream) under ``key``.

        Hashes the bytes while writing, then verifies the stored object against that hash.
        Overwrites an existing object.

        Args:
            key: A valid key (see :func:`archive.naming.validate_key`).
            source: A path or a binary stream positioned at the start of the content.
            content_type: MIME type recorded with the object.
            metadata: User metadata, names ``[a-z0-9-]``; values may be any text.
            sha256: The expected digest; a differing content raises before anything is kept.

        Returns:
            The stored object's info, with ``sha256`` set.

        Raises:
            ChecksumMismatchError: Content or stored bytes do not match; no object is left
                under ``key`` (a previous object there may be gone on S3).
            InvalidKeyError: The key breaks the rules.
            StorageError: The store failed (retryable).
        """

    @abstractmethod
    def open(self, key: str, *, verify: bool = True) -> BinaryIO:
        """Open an object for streaming read (a context manager).

        With ``verify`` and a known digest, reading to the end raises ChecksumMismatchError
        when the bytes differ from the recorded SHA-256.

        Raises:
            ObjectNotFoundError: No such object.
        """

    @abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Info of one object; ObjectNotFoundError if missing."""

    def exists(self, key: str) -> bool:
        """Whether an object exists under ``key``."""
        try:
            self.head(key)
        except ObjectNotFoundError:
            return False
        return True

    @abstractmethod
    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix`` (a plain string prefix), sorted by key.

        Streams page by page; yields key, size and last_modified only.
        """

    @abstractmethod
    def copy(self, src: str, dst: str) -> ObjectInfo:
        """Copy ``src`` to ``dst`` and verify the copy against the source's SHA-256."""

    def move(self, src: str, dst: str) -> ObjectInfo:
        """Copy, verify, then delete ``src``. Moving a key onto itself changes nothing."""
        if src == dst:
            return self.head(src)
        info = self.copy(src, dst)
        self.delete(src)
        return info

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; deleting a missing key is not an error."""

    def read_in_memory(self, key: str, buffer: memoryview) -> int | None:
        """Read a whole object into ``buffer`` only if that needs no waiting for a device or
        the network (its bytes are already in memory, e.g. the page cache); else None.

        Lets a caller read small objects in its own thread when that costs less than handing
        them to a pool, without giving up the pool's concurrency for reads that would wait.
        None also when the object is missing, does not fit in ``buffer`` (pass one byte more
        than the expected size), or the store cannot tell; :meth:`open` then reads it as usual.
        The default cannot tell.

        Returns:
            The object's size: ``buffer[:size]`` holds all its bytes.
        """
        return None

    def digest_of(self, info: ObjectInfo) -> str | None:
        """The SHA-256 of an object ``head`` returned: the recorded one, else re-hashed from
        the stored bytes (an object written without metadata, or whose digest was lost).

        None when the object has gone meanwhile.
        """
        if info.sha256 is not None:
            return info.sha256
        try:
            return self.sha256_of(info.key)
        except ObjectNotFoundError:
            return None

    def holding(self, key: str, *, sha256: str) -> ObjectInfo | None:
        """The object at ``key`` if it holds exactly the bytes of ``sha256``, else None.

        The reuse rule after a crash: an object a dead run stored at the key a rerun computes
        is reused when its bytes match, whether or not the store recorded their digest, so a
        rerun never writes a ``-2`` copy of bytes that are already there.
        """
        try:
            info = self.head(key)
        except ObjectNotFoundError:
            return None
        wanted = check_sha256(sha256)
        if info.sha256 is not None and info.sha256 != wanted:
            return None
        if info.sha256 is None and self.digest_of(info) != wanted:
            return None
        return info if info.sha256 is not None else replace(info, sha256=wanted)

    def sha256_of(self, key: str) -> str:
        """SHA-256 of the stored bytes, computed by streaming the content."""
        with self.open(key, verify=False) as stream:
            return hash_stream(stream)[0]

    def verify(self, key: str, *, expected_sha256: str | None = None) -> ObjectInfo:
        """Re-hash an object and compare with ``expected_sha256`` or the recorded digest.

        Raises:
            ChecksumMismatchError: The bytes differ.
            ObjectNotFoundError: No such object.
        """
        info = self.head(key)
        expected = check_sha256(expected_sha256) or info.sha256
        actual = self.sha256_of(key)
        if expected is not None and actual != expected:
            raise mismatch(key, expected=expected, actual=actual)
        return info

    @abstractmethod
    def ensure_ready(self) -> None:
        """Create the bucket or root folder if needed (idempotent)."""

    @abstractmethod
    def describe(self) -> str:
        """Where the objects live, for people (e.g. ``本地文件夹 /srv/archive``)."""
