"""The machine's limit for one file over loopback HTTP: ``socket.sendfile`` and nothing else.

``looplab bench --full`` serves the 256 MiB sample from here and from the lab's
stream approaches to the same client in the same run; the best approach is
judged against this figure. No framework, no event loop, no copy through
Python: the kernel moves the page cache to the socket. Keep-alive, so the client
pays one handshake per run, as it does against uvicorn.

    python -m app.bench.sendfile_server FILE [--port 0]

prints ``listening on PORT`` once it accepts connections; every GET gets FILE.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
from pathlib import Path

_HEAD_END = b"\r\n\r\n"


def _serve_connection(conn: socket.socket, path: Path) -> None:
    pending = b""
    with conn:
        while True:
            while _HEAD_END not in pending:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                pending += chunk
            _, _, pending = pending.partition(_HEAD_END)
            size = path.stat().st_size
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
                b"content-length: %d\r\n\r\n" % size
            )
            with path.open("rb") as file:
                conn.sendfile(file)


def _serve_guarded(conn: socket.socket, path: Path) -> None:
    try:
        _serve_connection(conn, path)
    except OSError:
        pass  # the client hung up mid-file: the bench cuts streams off at its deadline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if not args.file.is_file():
        parser.error(f"not a file: {args.file}")
    listener = socket.create_server(("127.0.0.1", args.port), backlog=128)
    print(f"listening on {listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_serve_guarded, args=(conn, args.file), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        os._exit(0)
