"""A storage server that accepts connections and never answers becomes storage_unavailable
within the configured timeouts (a real socket server on 127.0.0.1, no mocks)."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from archive.errors import StorageError
from archive.storage import make_store
from config.errors import ErrorCode

pytest_plugins = ["tests.fixtures.s3"]


@pytest.fixture
def frozen_endpoint() -> Iterator[str]:
    """An HTTP endpoint that accepts every connection and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


@pytest.mark.timeout(60)
def test_a_frozen_server_is_storage_unavailable_within_the_timeouts(
    frozen_endpoint: str, aws_credentials: None
) -> None:
    store = make_store(
        storage_url="s3://frozen/dossier",
        s3_endpoint_url=frozen_endpoint,
        s3_region="us-east-1",
        s3_connect_timeout_seconds=1.0,
        s3_read_timeout_seconds=1.0,
        s3_max_attempts=2,
    )
    started = time.monotonic()
    with pytest.raises(StorageError) as caught:
        store.put("a/b.pdf", io.BytesIO(b"%PDF-1.4"))
    elapsed = time.monotonic() - started
    assert caught.value.code == ErrorCode.STORAGE_UNAVAILABLE
    assert caught.value.retryable
    assert elapsed < 15, elapsed
    with pytest.raises(StorageError):
        store.head("a/b.pdf")
