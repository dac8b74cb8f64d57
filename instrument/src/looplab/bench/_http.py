"""A minimal HTTP/1.1 keep-alive client on raw asyncio, fast enough never to be the bottleneck.

``httpx.AsyncClient`` tops out near 200 requests/s on a small machine and would
decide any result it took part in. This client is a ``BufferedProtocol``: the
transport reads straight into one preallocated buffer and the body is counted,
never copied, so one process can take gigabytes per second of a stream and
thousands of small responses. It understands ``content-length``, ``chunked``
and read-until-close bodies, which is all a streaming endpoint can send.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

__all__ = ["Connection", "HttpError", "Response", "Target", "connect"]

_BUFFER_SIZE = 1 << 20  # a large buffer: one read syscall per MiB of a stream
_MAX_LINE = 64 * 1024  # no status, header or chunk-size line is longer: refuse garbage


class HttpError(Exception):
    """The server sent something that is not HTTP/1.1, or closed mid-response."""


@dataclass(frozen=True)
class Target:
    """Where requests go: host, port and the bytes of one ready-made GET request."""

    host: str
    port: int
    path: str

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only plain http://host:port/... URLs are supported, not {url!r}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return cls(parts.hostname, parts.port or 80, path)

    def request(self) -> bytes:
        # HTTP/1.1 keeps the connection alive by default; no headers beyond Host needed.
        return f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode("ascii")


@dataclass(frozen=True)
class Response:
    status: int
    body_bytes: int


class _State(enum.Enum):
    STATUS = enum.auto()
    HEADERS = enum.auto()
    BODY = enum.auto()  # `_remaining` bytes of a content-length body or of one chunk
    BODY_UNTIL_CLOSE = enum.auto()
    CHUNK_SIZE = enum.auto()
    CHUNK_END = enum.auto()  # the CRLF after a chunk's data
    TRAILERS = enum.auto()
    IDLE = enum.auto()


class _Protocol(asyncio.BufferedProtocol):
    def __init__(self) -> None:
        self._buffer = bytearray(_BUFFER_SIZE)
        self._view = memoryview(self._buffer)
        self._line = bytearray()
        self._state = _State.IDLE
        self._status = 0
        self._length: int | None = None
        self._chunked = False
        self._remaining = 0
        self._body = 0
        self._keep_alive = True
        self._waiter: asyncio.Future[Response] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False
        # Bytes of a body received so far, visible while it is still arriving
        # (the load generator counts the bytes of a stream cut at the deadline).
        self.body_so_far = 0

    # -- asyncio callbacks -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        try:
            self._feed(nbytes)
        except HttpError as exc:
            self._fail(exc)
            assert self.transport is not None
            self.transport.close()

    def eof_received(self) -> bool | None:
        if self._state is _State.BODY_UNTIL_CLOSE:
            self._finish()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._state is _State.BODY_UNTIL_CLOSE:
            self._finish()
        self._fail(HttpError(f"connection closed mid-response ({exc or 'EOF'})"))

    # -- the parser ----------------------------------------------------------
    def _feed(self, end: int) -> None:
        pos = 0
        while pos < end:
            state = self._state
            if state is _State.BODY:
                take = min(self._remaining, end - pos)
                self._remaining -= take
                self._body += take
                self.body_so_far = self._body
                pos += take
                if self._remaining == 0:
                    self._body_part_done()
            elif state is _State.BODY_UNTIL_CLOSE:
                self._body += end - pos
                self.body_so_far = self._body
                pos = end
            elif state is _State.IDLE:
                raise HttpError("data arrived with no request outstanding")
            else:
                newline = self._buffer.find(b"\n", pos, end)
                stop = end if newline < 0 else newline + 1
                self._line += self._view[pos:stop]
                pos = stop
                if len(self._line) > _MAX_LINE:
                    raise HttpError("a header or chunk-size line is too long")
                if newline >= 0:
                    line = bytes(self._line).rstrip(b"\r\n")
                    self._line.clear()
                    self._on_line(line)

    def _on_line(self, line: bytes) -> None:
        state = self._state
        if state is _State.STATUS:
            parts = line.split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                raise HttpError(f"not an HTTP/1.x status line: {line[:80]!r}")
            self._status = int(parts[1])
            self._keep_alive = parts[0] == b"HTTP/1.1"
            self._state = _State.HEADERS
        elif state is _State.HEADERS:
            if line:
                self._on_header(line)
            else:
                self._on_headers_done()
        elif state is _State.CHUNK_SIZE:
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError(f"bad chunk size line: {line[:80]!r}") from None
            if size == 0:
                self._state = _State.TRAILERS
            else:
                self._remaining = size
                self._state = _State.BODY
        elif state is _State.CHUNK_END:
            if line:
                raise HttpError("chunk data longer than its declared size")
            self._state = _State.CHUNK_SIZE
        elif state is _State.TRAILERS and not line:
            self._finish()

    def _on_header(self, line: bytes) -> None:
        name, sep, value = line.partition(b":")
        if not sep:
            raise HttpError(f"malformed header line: {line[:80]!r}")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            if not value.isdigit():
                raise HttpError(f"bad content-length: {value[:40]!r}")
            self._length = int(value)
        elif name == b"transfer-encoding":
            self._chunked = value.endswith(b"chunked")
        elif name == b"connection":
            if b"close" in value:
                self._keep_alive = False
            elif b"keep-alive" in value:
                self._keep_alive = True

    def _on_headers_done(self) -> None:
        if self._status in (204, 304) or 100 <= self._status < 200:
            self._finish()
        elif self._chunked:
            self._state = _State.CHUNK_SIZE
        elif self._length is not None:
            self._remaining = self._length
            self._state = _State.BODY
            if self._length == 0:
                self._finish()
        else:
            self._keep_alive = False
            self._state = _State.BODY_UNTIL_CLOSE

    def _body_part_done(self) -> None:
        if self._chunked:
            self._state = _State.CHUNK_END
        else:
            self._finish()

    def _finish(self) -> None:
        self._state = _State.IDLE
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self._status, self._body))
        if not self._keep_alive and self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        self._state = _State.IDLE
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    # -- one request -----------------------------------------------------------
    def send(self, request: bytes) -> asyncio.Future[Response]:
        if self.closed or self.transport is None or not self._keep_alive:
            raise HttpError("the connection is closed")
        if self._state is not _State.IDLE:
            raise HttpError("a request is already outstanding on this connection")
        self._status, self._length, self._chunked = 0, None, False
        self._body = self.body_so_far = 0
        self._state = _State.STATUS
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._waiter


class Connection:
    """One keep-alive connection: ``await conn.get()`` sends the target's request."""

    def __init__(self, target: Target, protocol: _Protocol) -> None:
        self._request = target.request()
        self._protocol = protocol

    @property
    def usable(self) -> bool:
        """False once the server closed the connection or asked to close it."""
        return not self._protocol.closed and self._protocol._keep_alive

    @property
    def in_flight(self) -> bool:
        """True while a request sent on this connection has not been fully answered."""
        return self._protocol._waiter is not None

    @property
    def body_so_far(self) -> int:
        """Body bytes of the current (or last) response received so far."""
        return self._protocol.body_so_far

    async def get(self) -> Response:
        return await self._protocol.send(self._request)

    def close(self) -> None:
        if self._protocol.transport is not None:
            self._protocol.transport.close()


async def connect(target: Target, connect_timeout_s: float = 10.0) -> Connection:
    """Open one connection to ``target`` (TCP_NODELAY is set by asyncio itself)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(connect_timeout_s):
        _, protocol = await loop.create_connection(_Protocol, target.host, target.port)
    return Connection(target, protocol)
