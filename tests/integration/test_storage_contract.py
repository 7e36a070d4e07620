"""One contract for every ObjectStore backend: local folder and S3 (moto server over HTTP)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest

from archive.errors import (
    ChecksumMismatchError,
    InvalidKeyError,
    ObjectNotFoundError,
    StorageError,
)
from archive.storage import LocalObjectStore, ObjectStore, make_store
from archive.storage.s3 import S3ObjectStore
from config.errors import ConfigurationError
from tests.fixtures.s3 import MIB, TEST_LIST_PAGE_SIZE, TEST_MULTIPART_THRESHOLD, FailingStore

KEY = "archive/企业客户/2024/Q3/北京某某科技有限公司/北京某某科技有限公司-营业执照-2024-08-01.pdf"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_all(store: ObjectStore, key: str) -> bytes:
    with store.open(key) as fh:
        return fh.read()


def corrupt_behind_the_store(store: ObjectStore, key: str, data: bytes) -> None:
    """Replace an object's bytes without the store knowing (bit rot, a rogue writer)."""
    if isinstance(store, LocalObjectStore):
        path = store.root.joinpath(*key.split("/"))
        st = path.stat()
        with open(path, "r+b") as fh:
            fh.write(data)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # bit rot leaves mtime alone
        return
    assert isinstance(store, S3ObjectStore)
    head = store.client.head_object(Bucket=store.bucket, Key=store.full_key(key))
    store.client.put_object(
        Bucket=store.bucket,
        Key=store.full_key(key),
        Body=data,
        Metadata=head["Metadata"],
        ContentType=head["ContentType"],
    )


def test_put_head_open_round_trip_with_chinese_key(store: ObjectStore, tmp_path: Path) -> None:
    data = "营业执照 PDF 内容".encode() * 100
    src = tmp_path / "src.pdf"
    src.write_bytes(data)
    info = store.put(
        KEY,
        src,
        content_type="application/pdf",
        metadata={"document-id": "42", "note": "客户 资料%20"},
    )
    assert info.key == KEY
    assert info.size == len(data)
    assert info.sha256 == sha(data)
    head = store.head(KEY)
    assert head.sha256 == sha(data)
    assert head.content_type == "application/pdf"
    assert head.metadata["document-id"] == "42"
    assert head.metadata["note"] == "客户 资料%20"
    assert head.metadata["sha256"] == sha(data)
    assert head.last_modified.tzinfo is not None
    assert read_all(store, KEY) == data
    assert store.sha256_of(KEY) == sha(data)
    assert store.verify(KEY).sha256 == sha(data)


def test_put_from_a_stream(store: ObjectStore) -> None:
    data = os.urandom(100_000)
    info = store.put("in/stream.bin", io.BytesIO(data))
    assert info.sha256 == sha(data)
    assert info.content_type == "application/octet-stream"
    assert read_all(store, "in/stream.bin") == data


def test_open_streams_in_chunks(store: ObjectStore) -> None:
    data = os.urandom(300_000)
    store.put("s/chunks.bin", io.BytesIO(data))
    parts = []
    with store.open("s/chunks.bin") as fh:
        while chunk := fh.read(65_536):
            parts.append(chunk)
    assert len(parts) > 1
    assert b"".join(parts) == data


def test_overwrite_replaces_content_and_checksum(store: ObjectStore) -> None:
    store.put("a/x.pdf", io.BytesIO(b"first"))
    info = store.put("a/x.pdf", io.BytesIO(b"second version"))
    assert info.sha256 == sha(b"second version")
    assert store.head("a/x.pdf").size == len(b"second version")
    assert read_all(store, "a/x.pdf") == b"second version"


def test_expected_sha256_mismatch_keeps_nothing(store: ObjectStore) -> None:
    with pytest.raises(ChecksumMismatchError):
        store.put("a/bad.pdf", io.BytesIO(b"payload"), sha256=sha(b"something else"))
    assert not store.exists("a/bad.pdf")
    assert list(store.iter_objects("a/")) == []


def test_expected_sha256_match_is_accepted(store: ObjectStore) -> None:
    info = store.put("a/ok.pdf", io.BytesIO(b"payload"), sha256=sha(b"payload").upper())
    assert info.sha256 == sha(b"payload")


def test_exists_and_idempotent_delete(store: ObjectStore) -> None:
    assert not store.exists("d/gone.pdf")
    store.put("d/gone.pdf", io.BytesIO(b"x"))
    assert store.exists("d/gone.pdf")
    store.delete("d/gone.pdf")
    assert not store.exists("d/gone.pdf")
    store.delete("d/gone.pdf")  # again: no error
    store.delete("never/was/there.pdf")


def test_missing_key_raises_object_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.head("no/such.pdf")
    with pytest.raises(ObjectNotFoundError):
        store.open("no/such.pdf")
    with pytest.raises(ObjectNotFoundError):
        store.sha256_of("no/such.pdf")
    with pytest.raises(ObjectNotFoundError):
        store.copy("no/such.pdf", "no/other.pdf")


def test_a_folder_is_not_an_object(store: ObjectStore) -> None:
    store.put("f/inner/a.pdf", io.BytesIO(b"a"))
    assert not store.exists("f/inner")
    with pytest.raises(ObjectNotFoundError):
        store.head("f")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs.pdf",
        "a/../b.pdf",
        "../b.pdf",
        "a/./b.pdf",
        "a//b.pdf",
        "a/b/",
        "a\\b.pdf",
        "a/b\x00.pdf",
        "a/b\n.pdf",
        "e\u0301.pdf",  # not NFC
        "a/" + "x" * 256,  # segment over 255 bytes
        "/".join(["长" * 80] * 5),  # over 1024 bytes
    ],
)
def test_invalid_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        store.put(key, io.BytesIO(b"x"))
    with pytest.raises(InvalidKeyError):
        store.head(key)
    with pytest.raises(InvalidKeyError):
        store.delete(key)


def test_listing_is_sorted_paginated_and_streamed(store: ObjectStore) -> None:
    names = [f"客户{i:02d}/资料-{i}.pdf" for i in range(30)] + ["a-b.pdf", "a/b.pdf", "a.pdf"]
    for name in names:
        store.put(f"list/{name}", io.BytesIO(name.encode()))
    listed = store.iter_objects("list/")
    first = next(listed)  # a generator: usable before every page is fetched
    keys = [first.key] + [o.key for o in listed]
    expected = sorted(f"list/{n}" for n in names)
    assert keys == expected
    assert keys == sorted(keys, key=lambda k: k.encode("utf-8"))  # S3's order
    assert len(keys) > 4 * TEST_LIST_PAGE_SIZE
    sizes = {o.key: o.size for o in store.iter_objects("list/")}
    assert sizes["list/a.pdf"] == len(b"a.pdf")


def test_listing_respects_prefix(store: ObjectStore) -> None:
    for key in ["p/a/1.pdf", "p/a/2.pdf", "p/ab/3.pdf", "p/b/4.pdf", "q/a/5.pdf"]:
        store.put(key, io.BytesIO(key.encode()))
    assert [o.key for o in store.iter_objects("p/a/")] == ["p/a/1.pdf", "p/a/2.pdf"]
    assert [o.key for o in store.iter_objects("p/a")] == ["p/a/1.pdf", "p/a/2.pdf", "p/ab/3.pdf"]
    assert [o.key for o in store.iter_objects("p/")] == [
        "p/a/1.pdf",
        "p/a/2.pdf",
        "p/ab/3.pdf",
        "p/b/4.pdf",
    ]
    assert [o.key for o in store.iter_objects("nothing/")] == []
    assert len(list(store.iter_objects())) == 5


def test_listing_refuses_bad_prefix(store: ObjectStore) -> None:
    with pytest.raises(InvalidKeyError):
        list(store.iter_objects("../"))


def test_copy_verifies_and_keeps_metadata(store: ObjectStore) -> None:
    data = os.urandom(50_000)
    store.put(
        "c/src.pdf", io.BytesIO(data), content_type="application/pdf", metadata={"document-id": "7"}
    )
    info = store.copy("c/src.pdf", "c/复制/dst.pdf")
    assert info.sha256 == sha(data)
    assert info.content_type == "application/pdf"
    assert info.metadata["document-id"] == "7"
    assert read_all(store, "c/复制/dst.pdf") == data
    assert store.exists("c/src.pdf")


def test_copy_refuses_to_spread_a_corrupted_source(store: ObjectStore) -> None:
    data = b"A" * 4096
    store.put("c/rotten.pdf", io.BytesIO(data))
    corrupt_behind_the_store(store, "c/rotten.pdf", b"B" * 4096)
    with pytest.raises(ChecksumMismatchError):
        store.copy("c/rotten.pdf", "c/copy.pdf")
    assert not store.exists("c/copy.pdf")


def test_move_copies_verifies_and_deletes(store: ObjectStore) -> None:
    store.put("m/old/a.pdf", io.BytesIO(b"moving"), metadata={"document-id": "9"})
    info = store.move("m/old/a.pdf", "m/new/a.pdf")
    assert info.sha256 == sha(b"moving")
    assert not store.exists("m/old/a.pdf")
    assert read_all(store, "m/new/a.pdf") == b"moving"
    assert [o.key for o in store.iter_objects("m/")] == ["m/new/a.pdf"]
    same = store.move("m/new/a.pdf", "m/new/a.pdf")  # onto itself: nothing lost
    assert same.sha256 == sha(b"moving")
    assert read_all(store, "m/new/a.pdf") == b"moving"


def test_multipart_upload_round_trips(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(2 * TEST_MULTIPART_THRESHOLD + MIB)
    src = tmp_path / "big.pdf"
    src.write_bytes(data)
    info = store.put("big/大文件.pdf", src, content_type="application/pdf")
    assert info.size == len(data)
    assert info.sha256 == sha(data)
    assert store.sha256_of("big/大文件.pdf") == sha(data)
    assert read_all(store, "big/大文件.pdf") == data  # verifying read of a multipart object
    streamed = store.put("big/from-stream.bin", io.BytesIO(data))
    assert streamed.sha256 == sha(data)
    if isinstance(store, S3ObjectStore):
        etag = store.client.head_object(Bucket=store.bucket, Key=store.full_key("big/大文件.pdf"))
        assert etag["ETag"].strip('"').endswith("-3")  # three parts


def test_corruption_is_detected(store: ObjectStore) -> None:
    data = b"original bytes of a scanned license" * 50
    info = store.put("r/license.pdf", io.BytesIO(data))
    rotten = bytearray(data)
    rotten[100] ^= 0xFF
    corrupt_behind_the_store(store, "r/license.pdf", bytes(rotten))
    assert store.head("r/license.pdf").sha256 == info.sha256  # the record is kept
    assert store.sha256_of("r/license.pdf") == sha(bytes(rotten))
    with pytest.raises(ChecksumMismatchError):
        store.verify("r/license.pdf")
    with pytest.raises(ChecksumMismatchError):
        read_all(store, "r/license.pdf")  # a verifying read
    with store.open("r/license.pdf", verify=False) as fh:
        assert fh.read() == bytes(rotten)


class _WatchingSource(io.RawIOBase):
    """A source stream that, halfway through, looks at the store from a reader's side."""

    def __init__(self, store: ObjectStore, key: str, data: bytes) -> None:
        self.store, self.key, self.data, self.pos = store, key, data, 0
        self.seen: list[Any] = []

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.pos == len(self.data) // 2 and not self.seen:
            self.seen.append(self.store.exists(self.key))
            self.seen.append([o.key for o in self.store.iter_objects()])
            self.seen.append(read_all(self.store, self.key) if self.seen[0] else None)
        n = min(len(buffer), len(self.data) // 2 if self.pos == 0 else len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


def test_a_reader_never_sees_a_partial_object(store: ObjectStore) -> None:
    data = os.urandom(200_000)
    watcher = _WatchingSource(store, "w/new.pdf", data)
    store.put("w/new.pdf", io.BufferedReader(watcher))
    assert watcher.seen[0] is False
    assert watcher.seen[1] == []  # no temp files or partial objects listed

    store.put("w/old.pdf", io.BytesIO(b"old complete version"))
    watcher = _WatchingSource(store, "w/old.pdf", data)
    store.put("w/old.pdf", io.BufferedReader(watcher))
    assert watcher.seen[0] is True
    assert watcher.seen[1] == ["w/new.pdf", "w/old.pdf"]
    assert watcher.seen[2] == b"old complete version"
    assert read_all(store, "w/old.pdf") == data


def test_ensure_ready_is_idempotent_and_describe_says_where(store: ObjectStore) -> None:
    store.ensure_ready()
    store.ensure_ready()
    text = store.describe()
    assert ("本地文件夹" in text) if isinstance(store, LocalObjectStore) else ("s3://" in text)


# -- backend specifics -------------------------------------------------------------------------


def test_make_store_from_urls(tmp_path: Path, s3_endpoint_url: str, s3_bucket: str) -> None:
    local = make_store(storage_url=(tmp_path / "档案 库").as_uri())
    assert isinstance(local, LocalObjectStore)
    assert local.root == tmp_path / "档案 库"
    s3 = make_store(storage_url=f"s3://{s3_bucket}/dossier/归档", s3_endpoint_url=s3_endpoint_url)
    assert isinstance(s3, S3ObjectStore)
    s3.put("k/a.pdf", io.BytesIO(b"abc"))
    raw = s3.client.head_object(Bucket=s3_bucket, Key="dossier/归档/k/a.pdf")
    assert raw["ContentLength"] == 3
    assert [o.key for o in s3.iter_objects()] == ["k/a.pdf"]
    assert s3.max_key_bytes == 1024 - len("dossier/归档/".encode())


def test_make_store_refuses_unknown_urls() -> None:
    for url in ["ftp://host/x", "s3:///no-bucket", "file://remote-host/x", "relative/path"]:
        with pytest.raises(ConfigurationError):
            make_store(storage_url=url)


def test_failing_store_fails_its_nth_put(store: ObjectStore) -> None:
    flaky = FailingStore(store, fail_on_put=2, error=StorageError("注入的故障"))
    flaky.put("f/1.pdf", io.BytesIO(b"1"))
    with pytest.raises(StorageError):
        flaky.put("f/2.pdf", io.BytesIO(b"2"))
    flaky.put("f/3.pdf", io.BytesIO(b"3"))
    assert [o.key for o in flaky.iter_objects("f/")] == ["f/1.pdf", "f/3.pdf"]


def test_s3_sends_sha256_checksum_and_ascii_metadata(s3_endpoint_url: str, s3_bucket: str) -> None:
    s3 = make_store(storage_url=f"s3://{s3_bucket}", s3_endpoint_url=s3_endpoint_url)
    assert isinstance(s3, S3ObjectStore)
    s3.put("x/测试.pdf", io.BytesIO(b"checksummed"), metadata={"customer": "北京某某"})
    raw = s3.client.head_object(Bucket=s3_bucket, Key="x/测试.pdf", ChecksumMode="ENABLED")
    assert raw["ChecksumSHA256"]
    assert bytes.fromhex(sha(b"checksummed")) == __import__("base64").b64decode(
        raw["ChecksumSHA256"]
    )
    assert raw["Metadata"]["customer"].isascii()
    assert s3.head("x/测试.pdf").metadata["customer"] == "北京某某"


def test_s3_put_detects_bytes_corrupted_in_transit(s3_endpoint_url: str, s3_bucket: str) -> None:
    """moto stores whatever arrives; the store's read-back must catch a corrupted body."""
    s3 = make_store(storage_url=f"s3://{s3_bucket}", s3_endpoint_url=s3_endpoint_url)
    assert isinstance(s3, S3ObjectStore)

    def corrupt_body(request: Any, **_: Any) -> None:
        body = request.body
        data = body.read() if hasattr(body, "read") else bytes(body)
        request.body = bytes([data[0] ^ 0xFF]) + data[1:]

    s3.client.meta.events.register("before-send.s3.PutObject", corrupt_body)
    with pytest.raises(ChecksumMismatchError):
        s3.put("t/in-transit.pdf", io.BytesIO(b"precious bytes"))
    s3.client.meta.events.unregister("before-send.s3.PutObject", corrupt_body)
    assert not s3.exists("t/in-transit.pdf")


def test_local_store_stays_inside_its_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LocalObjectStore(root)
    store.ensure_ready()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidKeyError):
        store.put("escape/x.pdf", io.BytesIO(b"x"))
    assert list(outside.iterdir()) == []
    with pytest.raises(InvalidKeyError):
        store.put(".dossier-meta/x.json", io.BytesIO(b"x"))
    store.put("ok/x.pdf", io.BytesIO(b"x"))
    assert [o.key for o in store.iter_objects()] == ["ok/x.pdf"]
    store.delete("ok/x.pdf")
    assert not (root / "ok").exists()  # empty folders are pruned
