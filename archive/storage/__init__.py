"""Object storage: one small interface (:class:`ObjectStore`), a local-folder and an S3 backend."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from archive.storage.base import ObjectInfo, ObjectStore
from archive.storage.local import LocalObjectStore
from config.errors import ConfigurationError

__all__ = ["LocalObjectStore", "ObjectInfo", "ObjectStore", "make_store"]


def make_store(
    *,
    storage_url: str,
    s3_endpoint_url: str | None = None,
    s3_region: str | None = None,
) -> ObjectStore:
    """Build the store a URL names: ``file:///path`` or ``s3://bucket/prefix``.

    Args:
        storage_url: ``Settings.storage_url``.
        s3_endpoint_url: An S3-protocol server other than AWS.
        s3_region: Region for S3.

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
        )
    raise ConfigurationError(
        f"无法识别的存储地址: {storage_url}（应为 file:///路径 或 s3://存储桶/前缀）",
        field="storage_url",
    )
