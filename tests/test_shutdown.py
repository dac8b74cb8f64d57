"""SIGTERM or Ctrl-C ends ``looplab serve`` within a bounded time, with streams in flight.

The bound is uvicorn's graceful-shutdown timeout (``GRACEFUL_SHUTDOWN_S``: requests
in flight get that long, then are cancelled) plus the longest call nothing can
interrupt (here one 20 ms simulated read). The lab's lifespan says, in the log, how
many sample files and producers were still open when it shut down: none.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.catalogue import by_id, long_workload
from app.core.config import DATA_DIR_ENV
from looplab.bench import GRACEFUL_SHUTDOWN_S

pytestmark = [pytest.mark.server, pytest.mark.timing]

STREAMS = ["stream.threadpool", "stream.asyncify", "produce-stream.async", "produce-stream.syncify"]
# Start-up of the interpreter aside, what the process may take beyond the timeout.
MARGIN_S = 3.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def serve(data_dir: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "looplab._cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, DATA_DIR_ENV: str(data_dir), "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.1)
        yield proc, port, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _start_stream(port: int, entry_id: str) -> socket.socket:
    entry = by_id(entry_id)
    target = entry.url("", **long_workload(entry))
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: lab\r\n\r\n".encode())
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")  # streaming has begun
    return sock


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_serve_ends_in_bounded_time_with_streams_in_flight(
    serve: tuple[subprocess.Popen[bytes], int, Path], signum: signal.Signals
) -> None:
    proc, port, log = serve
    streams = [_start_stream(port, entry_id) for entry_id in STREAMS]
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(signum)
    try:
        proc.wait(timeout=GRACEFUL_SHUTDOWN_S + MARGIN_S + 10)
    finally:
        for sock in streams:
            sock.close()
    took = time.monotonic() - started
    text = log.read_text()
    assert took <= GRACEFUL_SHUTDOWN_S + 0.02 + MARGIN_S, (took, text)
    # The streams were cut after the graceful timeout, not finished (each runs 20 s).
    assert took >= GRACEFUL_SHUTDOWN_S - 0.5, (took, text)
    assert "shut down with 0 open sample files and 0 running producers" in text, text
