"""Object storage: one small interface (:class:`ObjectStore`), a local-folder and an S3 backend."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from archive.storage.base import ObjectInfo, ObjectStore
from archive.storage.local import LocalObjectStore
from config.errors import ConfigurationError

if TYPE_CHECKING:
    from config import Settings

__all__ = ["LocalObjectStore", "ObjectInfo", "ObjectStore", "make_store", "store_from_settings"]


def store_from_settings(settings: Settings, *, url: str | None = None) -> ObjectStore:
    """The store ``settings`` name (or ``url``, e.g. the S3 intake prefix), with their S3
    endpoint, region, timeouts and attempts."""
    return make_store(
        storage_url=url or settings.storage_url,
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_region=settings.s3_region,
        s3_connect_timeout_seconds=settings.s3_connect_timeout_seconds,
        s3_read_timeout_seconds=settings.s3_read_timeout_seconds,
        s3_max_attempts=settings.s3_max_attempts,
    )


def make_store(
    *,
    storage_url: str,
    s3_endpoint_url: str | None = None,
    s3_region: str | None = None,
    s3_connect_timeout_seconds: float = 5.0,
    s3_read_timeout_seconds: float = 30.0,
    s3_max_attempts: int = 3,
) -> ObjectStore:
    """Build the store a URL names: ``file:///path`` or ``s3://bucket/prefix``.

    Args:
        storage_url: ``Settings.storage_url``.
        s3_endpoint_url: An S3-protocol server other than AWS.
        s3_region: Region for S3.
        s3_connect_timeout_seconds: Seconds to wait for a connection to the S3 server.
        s3_read_timeout_seconds: Seconds to wait for bytes of an answer.
        s3_max_attempts: Attempts per request (a timed-out one is retried), at least 1.

    Raises:
        ConfigurationError: The URL is not understood.
    """
    parts = urlsplit(storage_url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigurationError(f"不支持远程主机的 file URL: {storage_url}")
        return LocalObjectStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigurationError(f"S3 地址缺少存储桶名: {storage_url}")
        from archive.storage.s3 import S3ObjectStore  # boto3 is imported only when needed

        return S3ObjectStore(
            bucket=parts.netloc,
            prefix=unquote(parts.path).strip("/"),
            endpoint_url=s3_endpoint_url,
            region=s3_region,
            connect_timeout=s3_connect_timeout_seconds,
            read_timeout=s3_read_timeout_seconds,
            max_attempts=s3_max_attempts,
        )
    raise ConfigurationError(
        f"无法识别的存储地址: {storage_url}（应为 file:///路径 或 s3://存储桶/前缀）",
        field="storage_url",
    )
