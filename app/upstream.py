"""The upstream HTTP service the ``http`` family calls: a process of its own, slow on request.

``GET /?delay_ms=N`` answers ``{"delay_ms": N}`` after sleeping N ms, one thread per
connection, HTTP/1.1 keep-alive, on 127.0.0.1 only. It runs in its own process so
that its work never competes for the lab's GIL: what the lab's loop shows is the
client's doing, not the server's.

Each lab process starts its own upstream from its lifespan (:func:`running_upstream`),
so under ``looplab serve --workers N`` every worker finds one without any shared
state: the URL lives in the worker that started it. The upstream picks a free port,
prints it on its first line, and exits when its standard input closes, so it ends
with the lab even when the lab is killed; a lab that shuts down normally closes the
pipe, waits ``STOP_TIMEOUT_S`` and then kills it.

Run alone: ``python app/upstream.py`` (Ctrl-D or Ctrl-C to stop).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread

__all__ = ["MAX_DELAY_MS", "STOP_TIMEOUT_S", "running_upstream", "serve"]

HOST = "127.0.0.1"
# Longer than any delay the lab asks for (its own bound is lower): a bad query cannot
# park a thread here for long.
MAX_DELAY_MS = 60_000
# How long a shutdown waits for the process to leave before killing it.
STOP_TIMEOUT_S = 2.0
# Room for the bench's concurrency and more in the listen backlog.
_BACKLOG = 256


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, so a client's connection pool has something to pool.
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        values = parse_qs(urlsplit(self.path).query).get("delay_ms", ["0"])
        try:
            delay_ms = min(max(int(values[0]), 0), MAX_DELAY_MS)
        except ValueError:
            delay_ms = 0
        time.sleep(delay_ms / 1000)
        body = json.dumps({"delay_ms": delay_ms}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would drown the lab's own log


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = _BACKLOG


def serve() -> None:
    """Serve on a free port of 127.0.0.1; print it; stop when standard input closes."""
    server = _Server((HOST, 0), _Handler)
    print(server.server_address[1], flush=True)

    def watch_stdin() -> None:
        # EOF: the lab closed the pipe, or died. Either way this process has no reason to live.
        sys.stdin.buffer.read()
        server.shutdown()

    threading.Thread(target=watch_stdin, name="upstream-stdin", daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _start() -> tuple[subprocess.Popen[bytes], str]:
    # By file path, not -m: the child imports nothing of the lab but this module.
    process = subprocess.Popen(
        # -P: the script's directory (app/) stays off sys.path.
        [sys.executable, "-P", str(Path(__file__).resolve())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.isdigit():
        _stop(process)
        raise RuntimeError(f"the upstream service did not start (it said {line!r})")
    return process, f"http://{HOST}:{int(line)}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


@asynccontextmanager
async def running_upstream() -> AsyncIterator[str]:
    """Start an upstream service for this process; yield its base URL; stop it after."""
    # Starting a process and waiting for its first line block: not on the loop.
    process, url = await anyio.to_thread.run_sync(_start)
    try:
        yield url
    finally:
        # A lifespan ending under cancellation must still stop its process.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_stop, process)


if __name__ == "__main__":
    serve()
