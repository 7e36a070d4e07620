"""Object store on a local folder.

A key ``a/b/c.pdf`` is the file ``<root>/a/b/c.pdf``. Writes are atomic: the bytes go to a
temporary file in the same folder, are fsynced and hashed again from disk; then the sidecar
(below) is written, and only then is the temporary file renamed into place and the folder
fsynced, so a reader never sees a partial object.

SHA-256, content type and metadata live in a sidecar JSON file under ``<root>/.dossier-meta/``
(named after the SHA-256 of the key, so long keys never make long sidecar names). The sidecar
records the data file's size and mtime (a rename keeps both, so they are known before it);
when they no longer match (the file was replaced behind the store's back), ``head`` reports the
digest as unknown (None) rather than a stale one. Names starting with ``.dossier`` are reserved:
keys may not use them and listings never show them.

A crash at any instant of ``put`` leaves either no object under the key (a temporary file, and
perhaps a sidecar describing bytes that never arrived, both unseen by listings) or the whole
object with its sidecar: never an object whose digest is unknown. Temporary files older than
:data:`STALE_TEMP_SECONDS` are removed by the next ``put`` into the same folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import mimetypes
import os
import time
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from archive.errors import (
    InvalidKeyError,
    ObjectNotFoundError,
    StorageAccessError,
    StorageError,
)
from archive.naming import validate_key, validate_prefix
from archive.storage.base import (
    DEFAULT_CONTENT_TYPE,
    SHA256_METADATA_KEY,
    ObjectInfo,
    ObjectStore,
    Source,
    check_metadata,
    check_sha256,
    copy_hashing,
    expected_sha256,
    hash_stream,
    mismatch,
    verifying_reader,
)

log = logging.getLogger(__name__)

RESERVED_PREFIX = ".dossier"
META_DIR = ".dossier-meta"
TMP_PREFIX = ".dossier-tmp-"
_PUT_ATTEMPTS = 3
#: A temporary file this old was left by a crashed writer (a live one renames within seconds).
STALE_TEMP_SECONDS = 3600.0
#: Where Linux shows the path of each open file descriptor (one readlink per opened object).
_PROC_FD = "/proc/self/fd"
_HAS_PROC_FD = os.path.isdir(_PROC_FD)
#: Linux (4.14+) reads that fail with EAGAIN instead of waiting for the disk.
_RWF_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None) if hasattr(os, "preadv") else None


def _as_storage_error(e: OSError, *, key: str) -> Exception:
    if isinstance(e, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return ObjectNotFoundError(f"对象不存在: {key}", key=key)
    if isinstance(e, PermissionError):
        return StorageAccessError(f"没有权限访问本地存储: {key} ({e.strerror})", key=key)
    if e.errno == errno.ENAMETOOLONG:
        return InvalidKeyError(f"对象键过长: {key}", key=key)
    return StorageError(f"本地存储读写失败: {key} ({e.strerror or e})", key=key)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sweep_stale_temps(folder: Path, *, now: float) -> None:
    """Remove temporary files a crashed writer left in ``folder`` (best effort)."""
    try:
        with os.scandir(folder) as it:
            stale = [
                e.path
                for e in it
                if e.name.startswith(TMP_PREFIX)
                and e.is_file(follow_symlinks=False)
                and now - e.stat(follow_symlinks=False).st_mtime > STALE_TEMP_SECONDS
            ]
    except OSError:
        return
    for path in stale:
        with contextlib.suppress(OSError):
            os.unlink(path)
            log.info("removed a temporary file left by a crashed write: %s", path)


def _mtime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def _listable(name: str) -> bool:
    if name.startswith(RESERVED_PREFIX):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return unicodedata.normalize("NFC", name) == name


class LocalObjectStore(ObjectStore):
    """Objects as files under ``root``."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root).expanduser().absolute()
        self._root_text = str(self._root)
        self._real_root: str | None = None

    @property
    def root(self) -> Path:
        return self._root

    # -- paths -------------------------------------------------------------------------------

    def _resolved_root(self) -> str:
        """The root with symlinks resolved; remembered once the root exists (it is not
        expected to be replaced while a store uses it)."""
        if self._real_root is not None:
            return self._real_root
        real = os.path.realpath(self._root_text)
        if os.path.isdir(real):
            self._real_root = real
        return real

    def _key_path(self, key: str) -> str:
        """The file of a valid, unreserved key (string checks only, no file system access)."""
        validate_key(key, max_bytes=self.max_key_bytes)
        segments = key.split("/")
        if any(s.startswith(RESERVED_PREFIX) for s in segments):
            raise InvalidKeyError(f"对象键使用了保留名称 {RESERVED_PREFIX}*: {key}", key=key)
        return os.path.join(self._root_text, *segments)

    def _inside(self, real_path: str) -> bool:
        """Whether a resolved (absolute, normalized) path is the root or below it."""
        real_root = self._resolved_root()
        return real_path == real_root or real_path.startswith(os.path.join(real_root, ""))

    def _path(self, key: str) -> Path:
        path = self._key_path(key)
        if not self._inside(os.path.realpath(path)):
            raise InvalidKeyError(f"对象键指向存储目录之外: {key}", key=key)
        return Path(path)

    def _opened_inside(self, fd: int, path: str) -> bool:
        """Whether the file opened as ``fd`` from ``path`` lies inside the root, by the path
        the kernel opened (Linux: one readlink instead of resolving every folder of the key;
        no window between check and open)."""
        if _HAS_PROC_FD:
            try:
                return self._inside(os.readlink(f"{_PROC_FD}/{fd}").removesuffix(" (deleted)"))
            except OSError:
                pass
        return self._inside(os.path.realpath(path))

    def _sidecar(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self._root / META_DIR / digest[:2] / f"{digest}.json"

    def _read_sidecar(self, key: str, st: os.stat_result) -> dict[str, Any] | None:
        try:
            data = json.loads(self._sidecar(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        fresh = (
            isinstance(data, dict)
            and data.get("key") == key
            and data.get("size") == st.st_size
            and data.get("mtime_ns") == st.st_mtime_ns
        )
        return data if fresh else None

    def _write_sidecar(self, key: str, data: dict[str, Any]) -> None:
        target = self._sidecar(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}")
        try:
            with open(tmp, "x", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        finally:
            tmp.unlink(missing_ok=True)
        _sweep_stale_temps(target.parent, now=time.time())

    def _info(self, key: str, st: os.stat_result) -> ObjectInfo:
        meta = self._read_sidecar(key, st)
        if meta is None:
            guessed = mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
            return ObjectInfo(
                key=key, size=st.st_size, last_modified=_mtime(st.st_mtime_ns), content_type=guessed
            )
        return ObjectInfo(
            key=key,
            size=st.st_size,
            last_modified=_mtime(st.st_mtime_ns),
            sha256=meta.get("sha256"),
            content_type=meta.get("content_type") or DEFAULT_CONTENT_TYPE,
            metadata=dict(meta.get("metadata") or {}),
        )

    # -- writing -----------------------------------------------------------------------------

    def _write_temp(self, path: Path, source: Source) -> tuple[Path, str, int]:
        """Write ``source`` to a new temp file beside ``path``; return (temp, sha256, size)."""
        for attempt in range(_PUT_ATTEMPTS):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}")
            try:
                out = open(tmp, "xb")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                if attempt == _PUT_ATTEMPTS - 1:
                    raise
                continue  # the folder was pruned by a concurrent delete
            try:
                with out:
                    if isinstance(source, Path):
                        with source.open("rb") as src:
                            digest, size = copy_hashing(src, out)
                    else:
                        digest, size = copy_hashing(source, out)
                    out.flush()
                    os.fsync(out.fileno())
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            return tmp, digest, size
        raise AssertionError("unreachable")

    def put(
        self,
        key: str,
        source: Source,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: dict[str, str] | None = None,
        sha256: str | None = None,
    ) -> ObjectInfo:
        path = self._path(key)
        meta = check_metadata(metadata)
        expected = expected_sha256(sha256=sha256, metadata=meta)
        try:
            tmp, digest, size = self._write_temp(path, source)
        except (FileExistsError, NotADirectoryError) as e:
            raise InvalidKeyError(f"对象键与已有对象的路径冲突: {key}", key=key) from e
        except OSError as e:
            if isinstance(source, Path) and e.filename == str(source):
                raise
            raise _as_storage_error(e, key=key) from e
        try:
            self._commit(
                key,
                path=path,
                tmp=tmp,
                digest=digest,
                expected=expected,
                content_type=content_type,
                meta=meta,
            )
        except IsADirectoryError as e:
            raise InvalidKeyError(f"对象键与已有文件夹冲突: {key}", key=key) from e
        except OSError as e:
            raise _as_storage_error(e, key=key) from e
        finally:
            tmp.unlink(missing_ok=True)
        log.debug("stored %s (%d bytes) in %s", key, size, self._root)
        _sweep_stale_temps(path.parent, now=time.time())
        return self.head(key)

    def _commit(
        self,
        key: str,
        *,
        path: Path,
        tmp: Path,
        digest: str,
        expected: str | None,
        content_type: str,
        meta: dict[str, str],
    ) -> None:
        if expected is not None and digest != expected:
            raise mismatch(key, expected=expected, actual=digest)
        with open(tmp, "rb") as written:
            on_disk, _ = hash_stream(written)
        if on_disk != digest:
            raise mismatch(key, expected=digest, actual=on_disk)
        st = os.stat(tmp)
        # Sidecar first: a crash before the rename leaves no object (the sidecar describes
        # bytes that never arrived and is overwritten by the next put of the key); after it,
        # the object is complete and its digest known, so a rerun reuses it.
        self._write_sidecar(
            key,
            {
                "key": key,
                "sha256": digest,
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "content_type": content_type,
                "metadata": {**meta, SHA256_METADATA_KEY: digest},
            },
        )
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    # -- reading -----------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            st = os.stat(path)
        except OSError as e:
            raise _as_storage_error(e, key=key) from e
        if not os.path.isfile(path):
            raise ObjectNotFoundError(f"对象不存在: {key}", key=key)
        return self._info(key, st)

    def open(self, key: str, *, verify: bool = True) -> BinaryIO:
        path = self._key_path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - returned to the caller
        except OSError as e:
            self._path(key)  # a key that leads outside the root is invalid, found or not
            raise _as_storage_error(e, key=key) from e
        if not self._opened_inside(fh.fileno(), path):
            fh.close()
            raise InvalidKeyError(f"对象键指向存储目录之外: {key}", key=key)
        if not verify:
            return fh
        sidecar = self._read_sidecar(key, os.fstat(fh.fileno()))
        expected = check_sha256(sidecar.get("sha256")) if sidecar else None
        return verifying_reader(fh, key=key, expected=expected)

    def read_in_memory(self, key: str, buffer: memoryview) -> int | None:
        """One non-blocking read (``RWF_NOWAIT``): the whole file if the page cache holds it."""
        if _RWF_NOWAIT is None:
            return None
        try:
            path = self._key_path(key)
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except (OSError, InvalidKeyError):
            return None  # open() reports it
        try:
            if not self._opened_inside(fd, path):
                return None
            size = os.preadv(fd, [buffer], 0, _RWF_NOWAIT)
            # Short of the file's size: some pages are not in memory (or the file grew).
            return size if size < len(buffer) and size == os.fstat(fd).st_size else None
        except OSError:  # BlockingIOError: not in memory; or a file system without support
            return None
        finally:
            os.close(fd)

    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        if not self._root.is_dir():
            raise StorageAccessError(f"本地存储目录不存在: {self._root}")
        base = prefix.rpartition("/")[0]
        if any(s.startswith(RESERVED_PREFIX) for s in base.split("/") if s):
            return
        start = self._root.joinpath(*base.split("/")) if base else self._root
        yield from self._walk(start, base, prefix)

    def _walk(self, folder: Path, rel: str, prefix: str) -> Iterator[ObjectInfo]:
        # Depth first over each folder's entries sorted as "name/" (folders) and "name"
        # (files): keys come out in global code-point order, which is S3's UTF-8 byte order.
        # A stack of folders instead of recursion: each key passes one generator, not one per
        # folder level.
        stack = [(self._sorted_entries(str(folder), rel), rel)]
        while stack:
            items, base = stack[-1]
            item = next(items, None)
            if item is None:
                stack.pop()
                continue
            sort_name, entry = item
            key = f"{base}/{entry.name}" if base else entry.name
            if sort_name.endswith("/"):
                folder_key = key + "/"
                if folder_key.startswith(prefix) or prefix.startswith(folder_key):
                    stack.append((self._sorted_entries(entry.path, key), key))
            elif key.startswith(prefix):
                with contextlib.suppress(FileNotFoundError):
                    st = entry.stat(follow_symlinks=False)
                    yield ObjectInfo(key=key, size=st.st_size, last_modified=_mtime(st.st_mtime_ns))

    @staticmethod
    def _sorted_entries(folder: str, rel: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """A folder's listable entries as ("name/" or "name", entry), sorted; none if it is
        gone or not a folder."""
        try:
            with os.scandir(folder) as it:
                entries = [e for e in it if _listable(e.name)]
        except (FileNotFoundError, NotADirectoryError):
            return iter(())
        except OSError as e:
            raise _as_storage_error(e, key=rel) from e
        items = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                items.append((entry.name + "/", entry))
            elif entry.is_file(follow_symlinks=False):
                items.append((entry.name, entry))
        items.sort(key=lambda item: item[0])
        return iter(items)

    # -- copy, delete ------------------------------------------------------------------------

    def copy(self, src: str, dst: str) -> ObjectInfo:
        info = self.head(src)
        if src == dst:
            return info
        meta = {k: v for k, v in info.metadata.items() if k != SHA256_METADATA_KEY}
        with self.open(src, verify=False) as stream:
            return self.put(
                dst,
                stream,
                content_type=info.content_type or DEFAULT_CONTENT_TYPE,
                metadata=meta,
                sha256=info.sha256,
            )

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            if os.path.isdir(path):
                return
            path.unlink(missing_ok=True)
            self._sidecar(key).unlink(missing_ok=True)
        except NotADirectoryError:
            return
        except OSError as e:
            raise _as_storage_error(e, key=key) from e
        self._prune(path.parent)

    def _prune(self, folder: Path) -> None:
        """Remove folders left empty, up to the root."""
        while folder != self._root and self._root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    # -- set-up --------------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        try:
            (self._root / META_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _as_storage_error(e, key=str(self._root)) from e

    def describe(self) -> str:
        return f"本地文件夹 {self._root}"
