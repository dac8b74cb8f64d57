"""Clients that leave mid-stream: every stream approach lets go of what it opened, promptly.

The server runs with the garbage collector disabled (``gc.disable()`` before
uvicorn starts), so nothing gets closed by a collection that happens to run:
a file or producer is released by the approach itself, or never. Each approach
takes 100 aborted streams; then, within one chunk's delay plus 2 s, the work
layer's counters must be back to zero and the process's descriptors back to
where they were.
"""

import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.api.routes.lab import OpenCounts
from app.catalogue import by_id, long_workload
from app.cli import APP
from app.core.config import DATA_DIR_ENV
from app.main import create_app
from looplab.bench import ServerProcess
from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries

pytestmark = [pytest.mark.server, pytest.mark.timing]

ABORTS = 100
_OPENAPI = create_app().openapi()


def _streams(entry: CatalogueEntry) -> bool:
    # A streamed body (anything but JSON): a client can take its first bytes and leave.
    content = _OPENAPI["paths"][entry.path][entry.method.lower()]["responses"]["200"]["content"]
    return "application/json" not in content


# The streaming entries with a long workload: each request would take 20 s to finish,
# far longer than the test waits, so only a close can end it in time.
LONG = entries(where=lambda e: bool(long_workload(e)) and _streams(e))


def _target(entry: CatalogueEntry, **overrides: str) -> str:
    """The path and query of one long request of ``entry``."""
    return entry.url("", **{**long_workload(entry), **overrides})


def _deadline(entry: CatalogueEntry) -> float:
    # Whatever waits between chunks or tokens, plus 2 s.
    query = long_workload(entry)
    delay_ms = query.get("delay_ms", query.get("item_delay_ms", 0))
    assert isinstance(delay_ms, int)
    return time.monotonic() + delay_ms / 1000 + 2


def _server(data_dir: Path) -> ServerProcess:
    return ServerProcess(APP, prelude="import gc; gc.disable()", env={DATA_DIR_ENV: str(data_dir)})


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ServerProcess]:
    with _server(data_dir) as running:
        yield running


def _open_counts(server: ServerProcess) -> OpenCounts:
    # A fresh connection each time, closed at once: the probe holds no descriptor.
    with urllib.request.urlopen(server.url + "/lab/open", timeout=10) as response:
        return OpenCounts.model_validate_json(response.read())


def _descriptors(server: ServerProcess) -> int:
    return len(os.listdir(f"/proc/{server.pid}/fd"))


def _abort_one(server: ServerProcess, target: str) -> None:
    """Start a stream, take its first bytes of body, and hang up."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        request = f"GET {target} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        received = b""
        while b"\r\n\r\n" not in received or received.endswith(b"\r\n\r\n"):
            data = sock.recv(65536)
            assert data, f"the server closed {target} before sending a body: {received!r}"
            received += data
        assert received.startswith(b"HTTP/1.1 200"), received[:200]


def _settled(server: ServerProcess, baseline: int, deadline: float) -> tuple[OpenCounts, int]:
    while True:
        counts, descriptors = _open_counts(server), _descriptors(server)
        quiet = counts.files == 0 and counts.producers == 0
        if (quiet and descriptors <= baseline) or time.monotonic() > deadline:
            return counts, descriptors
        time.sleep(0.05)


@over_entries(LONG)
def test_aborted_streams_release_files_and_producers(
    server: ServerProcess, entry: CatalogueEntry
) -> None:
    target = _target(entry)
    at_rest = _open_counts(server)
    assert (at_rest.files, at_rest.producers) == (0, 0)
    baseline = _descriptors(server)

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda _: _abort_one(server, target), range(ABORTS)))

    counts, descriptors = _settled(server, baseline, _deadline(entry))
    assert counts.files == 0, counts
    assert counts.producers == 0, counts
    assert descriptors <= baseline, (descriptors, baseline)
    # The server is still healthy afterwards.
    assert _open_counts(server).files == 0


# A producer that needs a thread token, pulled by syncify from a def generator. Left
# to Starlette alone, a disconnect mid-pull parks the pulled task with a pending
# cancel and AnyIO (4.16) spins in CancelScope._deliver_cancellation at full CPU
# (agronholm/anyio#1257, reproduced without looplab). With the lab's stop flag the
# producer stops at its checkpoint before the next wait, and the spin never starts.
def test_aborted_syncify_streams_whose_producer_needs_a_thread(data_dir: Path) -> None:
    entry = by_id("produce-stream.syncify")
    running = _server(data_dir).start()
    try:
        target = _target(entry, source="thread")
        for _ in range(20):
            _abort_one(running, target)
        counts, _ = _settled(running, _descriptors(running), _deadline(entry))
        assert counts.producers == 0, counts
    finally:
        running.stop(timeout=2)
