"""Object store on S3 or any S3-protocol server, through boto3 (the only module importing it).

Every object carries a SHA-256 checksum (``ChecksumAlgorithm='SHA256'``), its content type and
user metadata, including ``sha256`` (hex of the whole content). User metadata must be ASCII
on S3, so values are percent-encoded on the way in and decoded on the way out. Large objects
go up in parts (threshold configurable). Not every S3-protocol server verifies checksums (moto
does not), so ``put`` and ``copy`` read the stored object back and hash it themselves.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import logging
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    FlexibleChecksumError,
    ParamValidationError,
)

from archive.errors import (
    ChecksumMismatchError,
    ObjectNotFoundError,
    StorageAccessError,
    StorageError,
)
from archive.naming import MAX_KEY_BYTES, utf8_len, validate_key, validate_prefix
from archive.storage.base import (
    CHUNK_SIZE,
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

MIB = 1024 * 1024
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_TRANSIENT = frozenset(
    {"Throttling", "ThrottlingException", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed"}
)
# Printable ASCII except '%' (the escape) and ' ' (HTTP trims it at the ends of a header).
_METADATA_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


def encode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Percent-encode metadata values so they are ASCII (S3 rejects anything else)."""
    return {name: quote(value, safe=_METADATA_SAFE) for name, value in metadata.items()}


def decode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Reverse of :func:`encode_metadata`."""
    return {name: unquote(value) for name, value in metadata.items()}


def _hex_from_b64(value: str | None) -> str | None:
    if not value or "-" in value:  # "-N" marks a composite (multipart) checksum
        return None
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


def _client_error(e: ClientError, *, key: str) -> StorageError:
    error = e.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _NOT_FOUND:
        return ObjectNotFoundError(f"对象不存在: {key}", key=key)
    if code == "NoSuchBucket":
        return StorageAccessError(f"存储桶不存在: {key} ({code})", key=key, s3_code=code)
    if code in _TRANSIENT or status >= 500 or status == 0:
        return StorageError(f"S3 存储暂时不可用: {key} ({code})", key=key, s3_code=code)
    return StorageAccessError(f"S3 存储拒绝了请求: {key} ({code})", key=key, s3_code=code)


@contextlib.contextmanager
def _converted(key: str) -> Iterator[None]:
    """Turn botocore/boto3 exceptions into dossier storage errors."""
    try:
        yield
    except ClientError as e:
        raise _client_error(e, key=key) from e
    except S3UploadFailedError as e:
        cause = e.__cause__ or e.__context__
        if isinstance(cause, ClientError):
            raise _client_error(cause, key=key) from e
        raise StorageError(f"上传到 S3 失败: {key}", key=key) from e
    except FlexibleChecksumError as e:
        raise ChecksumMismatchError(f"校验和不一致: {key}", key=key) from e
    except ParamValidationError as e:
        raise StorageAccessError(f"S3 请求参数无效: {key} ({e})", key=key) from e
    except BotoCoreError as e:
        raise StorageError(f"S3 存储暂时不可用: {key} ({type(e).__name__})", key=key) from e


class _BodyReader(io.RawIOBase):
    """A boto3 StreamingBody as a raw stream whose errors are dossier errors."""

    def __init__(self, body: Any, *, key: str) -> None:
        super().__init__()
        self._body = body
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        with _converted(self._key):
            data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._body.close()
            finally:
                super().close()


class S3ObjectStore(ObjectStore):
    """Objects in ``bucket`` under an optional key ``prefix``.

    Args:
        bucket: Bucket name.
        prefix: Key prefix inside the bucket (from ``s3://bucket/prefix``); keys given to and
            returned by the store do not include it.
        endpoint_url: An S3-protocol server other than AWS (e.g. MinIO, moto).
        region: Region name; credentials come from boto3's usual chain.
        multipart_threshold: Objects this large or larger are uploaded in parts.
        multipart_chunksize: Part size (S3 requires at least 5 MiB).
        max_concurrency: Parallel part uploads.
        list_page_size: Keys per listing request (at most 1000).
        max_attempts: Attempts per request, with exponential backoff (botocore standard mode);
            a timed-out request is retried too.
        connect_timeout: Seconds to wait for a connection to the server.
        read_timeout: Seconds to wait for any bytes of an answer; a server that accepts and
            never answers costs at most about ``max_attempts * (connect_timeout +
            read_timeout)`` plus backoff, then raises StorageError (``storage_unavailable``).
        spool_bytes: Stream sources up to this size are buffered in memory, larger on disk.
    """

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        multipart_threshold: int = 64 * MIB,
        multipart_chunksize: int = 16 * MIB,
        max_concurrency: int = 4,
        list_page_size: int = 1000,
        max_attempts: int = 3,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        spool_bytes: int = 16 * MIB,
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        if self._prefix:
            validate_key(self._prefix)
        self._endpoint_url = endpoint_url
        self._page_size = max(1, min(list_page_size, 1000))
        self._spool_bytes = spool_bytes
        self._multipart_threshold = multipart_threshold
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
        )
        self.max_key_bytes = MAX_KEY_BYTES - (utf8_len(self._prefix) + 1 if self._prefix else 0)
        config = Config(
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            s3={"addressing_style": "path"} if endpoint_url else None,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session(region_name=region)
        self._client = session.client("s3", endpoint_url=endpoint_url, config=config)

    @property
    def client(self) -> Any:
        """The boto3 S3 client (for diagnostics and fault-injection tests)."""
        return self._client

    @property
    def bucket(self) -> str:
        return self._bucket

    def full_key(self, key: str) -> str:
        """The key inside the bucket (with the store's prefix); validates ``key``."""
        validate_key(key, max_bytes=self.max_key_bytes)
        return f"{self._prefix}/{key}" if self._prefix else key

    def _relative(self, full_key: str) -> str:
        return full_key[len(self._prefix) + 1 :] if self._prefix else full_key

    # -- writing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _prepared(self, source: Source) -> Iterator[tuple[BinaryIO, str, int]]:
        """A seekable body for ``source`` with its SHA-256 and size, ready at position 0."""
        if isinstance(source, Path):
            with source.open("rb") as fh:
                digest, size = hash_stream(fh)
                fh.seek(0)
                yield fh, digest, size
            return
        with tempfile.SpooledTemporaryFile(max_size=self._spool_bytes) as spool:
            digest, size = copy_hashing(source, spool)  # type: ignore[arg-type]
            spool.seek(0)
            yield spool, digest, size  # type: ignore[misc]

    def _upload(
        self,
        full: str,
        body: BinaryIO,
        *,
        size: int,
        digest: str,
        content_type: str,
        metadata: dict[str, str],
    ) -> None:
        args = {"ContentType": content_type, "Metadata": encode_metadata(metadata)}
        if size >= self._multipart_threshold:
            self._client.upload_fileobj(
                body,
                self._bucket,
                full,
                ExtraArgs={**args, "ChecksumAlgorithm": "SHA256"},
                Config=self._transfer,
            )
            return
        self._client.put_object(
            Bucket=self._bucket,
            Key=full,
            Body=body,
            ContentLength=size,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode("ascii"),
            **args,
        )

    def put(
        self,
        key: str,
        source: Source,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: dict[str, str] | None = None,
        sha256: str | None = None,
    ) -> ObjectInfo:
        full = self.full_key(key)
        meta = check_metadata(metadata)
        expected = expected_sha256(sha256=sha256, metadata=meta)
        with self._prepared(source) as (body, digest, size):
            if expected is not None and digest != expected:
                raise mismatch(key, expected=expected, actual=digest)
            with _converted(key):
                self._upload(
                    full,
                    body,
                    size=size,
                    digest=digest,
                    content_type=content_type,
                    metadata={**meta, SHA256_METADATA_KEY: digest},
                )
        self._verify_written(key, expected=digest)
        log.debug("stored %s (%d bytes) in s3://%s", key, size, self._bucket)
        return self.head(key)

    def _verify_written(self, key: str, *, expected: str) -> None:
        """Read the object back and hash it; delete it and raise when it differs."""
        actual = self.sha256_of(key)
        if actual != expected:
            self.delete(key)
            raise mismatch(key, expected=expected, actual=actual)

    # -- reading -----------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        full = self.full_key(key)
        with _converted(key):
            resp = self._client.head_object(Bucket=self._bucket, Key=full, ChecksumMode="ENABLED")
        metadata = decode_metadata(resp.get("Metadata") or {})
        try:
            sha = check_sha256(metadata.get(SHA256_METADATA_KEY))
        except ValueError:
            sha = None
        return ObjectInfo(
            key=key,
            size=int(resp["ContentLength"]),
            last_modified=resp["LastModified"],
            sha256=sha or _hex_from_b64(resp.get("ChecksumSHA256")),
            content_type=resp.get("ContentType") or DEFAULT_CONTENT_TYPE,
            metadata=metadata,
        )

    def open(self, key: str, *, verify: bool = True) -> BinaryIO:
        full = self.full_key(key)
        extra = {"ChecksumMode": "ENABLED"} if verify else {}
        with _converted(key):
            resp = self._client.get_object(Bucket=self._bucket, Key=full, **extra)
        raw = _BodyReader(resp["Body"], key=key)
        if not verify:
            return io.BufferedReader(raw, CHUNK_SIZE)  # type: ignore[return-value]
        try:
            expected = check_sha256(
                decode_metadata(resp.get("Metadata") or {}).get(SHA256_METADATA_KEY)
            )
        except ValueError:
            expected = None
        return verifying_reader(raw, key=key, expected=expected)  # type: ignore[arg-type]

    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        full_prefix = f"{self._prefix}/{prefix}" if self._prefix else prefix
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self._bucket,
            Prefix=full_prefix,
            PaginationConfig={"PageSize": self._page_size},
        )
        with _converted(prefix or "/"):
            for page in pages:
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(
                        key=self._relative(obj["Key"]),
                        size=int(obj["Size"]),
                        last_modified=obj["LastModified"],
                        etag=str(obj.get("ETag") or "").strip('"') or None,
                    )

    # -- copy, delete ------------------------------------------------------------------------

    def copy(self, src: str, dst: str) -> ObjectInfo:
        info = self.head(src)
        if src == dst:
            return info
        expected = info.sha256 or self.sha256_of(src)
        full_dst = self.full_key(dst)
        metadata = {**info.metadata, SHA256_METADATA_KEY: expected}
        with _converted(dst):
            self._client.copy(
                CopySource={"Bucket": self._bucket, "Key": self.full_key(src)},
                Bucket=self._bucket,
                Key=full_dst,
                ExtraArgs={
                    "MetadataDirective": "REPLACE",
                    "ContentType": info.content_type or DEFAULT_CONTENT_TYPE,
                    "Metadata": encode_metadata(metadata),
                    "ChecksumAlgorithm": "SHA256",
                },
                Config=self._transfer,
            )
        self._verify_written(dst, expected=expected)
        return self.head(dst)

    def delete(self, key: str) -> None:
        full = self.full_key(key)
        with _converted(key):
            self._client.delete_object(Bucket=self._bucket, Key=full)

    # -- set-up --------------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) not in {"404", "NoSuchBucket"}:
                raise _client_error(e, key=self._bucket) from e
        except BotoCoreError as e:
            raise StorageError(f"S3 存储暂时不可用: {self._bucket}") from e
        region = self._client.meta.region_name
        params: dict[str, Any] = {"Bucket": self._bucket}
        if region and region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._client.create_bucket(**params)
        except ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) != "BucketAlreadyOwnedByYou":
                raise _client_error(e, key=self._bucket) from e
        except BotoCoreError as e:
            raise StorageError(f"S3 存储暂时不可用: {self._bucket}") from e

    def describe(self) -> str:
        where = f"s3://{self._bucket}/{self._prefix}".rstrip("/")
        return f"S3 存储 {where}" + (f"（{self._endpoint_url}）" if self._endpoint_url else "")
