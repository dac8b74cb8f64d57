"""Abandoned requests stop: every costed approach, 20 requests each, clients gone part-way.

Against a real uvicorn: 20 long requests of one approach, the clients hang up after
half a second, and then, within one step of the work (a read call, a chunk, a token,
a CPU round) plus 2 s, the server holds no thread token, no sample file and no
producer. A blocking call already running finishes first (a read's whole
``delay_ms``), and an inline anti-pattern, which holds the loop, runs to its end: the
rest may start too, if the loop runs them before it reads their clients' hang-up, so
those run their 300 ms workload and the bound is all of them, one after another.
"""

import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.api.params import QUERY_TYPES
from app.api.routes.lab import OpenCounts
from app.catalogue import long_workload
from app.cli import APP
from app.core.config import DATA_DIR_ENV
from looplab.bench import ServerProcess
from looplab.protocol import CatalogueEntry, MonitorSnapshot, QueryValue
from tests.utils.catalogue import entries, over_entries

pytestmark = [pytest.mark.server, pytest.mark.timing]

ABANDONED = 20
HANG_UP_AFTER_S = 0.5
MARGIN_S = 2.0
# A CPU round is ~10 ms; a token or chunk waits its delay.
_ROUND_S = 0.05

COSTED = entries(
    where=lambda e: bool(long_workload(e)) and any(name in QUERY_TYPES for name in e.params)
)


def _query(entry: CatalogueEntry) -> dict[str, QueryValue]:
    # An anti-pattern that holds the loop cannot hear of the hang-up while it runs, so
    # each one admitted runs whole: its short workload keeps that bounded.
    return dict(entry.workload) if entry.expect == "blocks" else long_workload(entry)


def _bound_s(entry: CatalogueEntry) -> float:
    """The longest the work can take to notice: what runs between two of its checkpoints."""
    if entry.expect == "blocks":
        return ABANDONED * entry.cost_ms / 1000
    if entry.expect == "degrades":
        # Its threads starve the loop of the GIL, and the loop is what hears the hang-ups:
        # twenty of them take it a second or so (measured 0.65-0.9 s alone).
        return 2 * MARGIN_S
    query = long_workload(entry)
    delays = [query[name] for name in ("delay_ms", "item_delay_ms") if name in query]
    return max([_ROUND_S, *(int(d) / 1000 for d in delays)])


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ServerProcess]:
    with ServerProcess(APP, env={DATA_DIR_ENV: str(data_dir)}) as running:
        yield running


def _held(server: ServerProcess) -> tuple[int, OpenCounts]:
    with urllib.request.urlopen(server.url + "/monitor?window=abandon", timeout=30) as answer:
        borrowed = MonitorSnapshot.model_validate_json(answer.read()).threadpool.borrowed
    with urllib.request.urlopen(server.url + "/lab/open", timeout=30) as answer:
        return borrowed, OpenCounts.model_validate_json(answer.read())


@over_entries(COSTED)
def test_abandoned_requests_release_threads_files_and_producers(
    server: ServerProcess, entry: CatalogueEntry
) -> None:
    address = urlsplit(server.url)
    target = entry.url("", **_query(entry))
    sockets = []
    for _ in range(ABANDONED):
        sock = socket.create_connection((address.hostname, address.port), timeout=10)
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: lab\r\n\r\n".encode())
        sockets.append(sock)
    time.sleep(HANG_UP_AFTER_S)
    for sock in sockets:
        sock.close()
    gone = time.monotonic()
    deadline = gone + _bound_s(entry) + MARGIN_S
    while True:
        borrowed, counts = _held(server)
        if (borrowed, counts.files, counts.producers) == (0, 0, 0):
            break
        assert time.monotonic() < deadline, (entry.id, borrowed, counts)
        time.sleep(0.05)
    print(f"\n{entry.id}: released {time.monotonic() - gone:.2f} s after the clients left")
