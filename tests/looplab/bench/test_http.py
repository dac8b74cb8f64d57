"""The load generator's HTTP client reads every framing a streaming server can send."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from looplab.bench._http import HttpError, Target, connect

Reply = Callable[[int], list[bytes]]


@asynccontextmanager
async def raw_server(reply: Reply) -> AsyncIterator[Target]:
    """A server that answers the n-th request on a connection with ``reply(n)``, piece by piece.

    Each piece is written and drained on its own, so the client sees the response
    split at awkward places (inside a header, a chunk-size line or a CRLF).
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = 0
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                for piece in reply(n):
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.002)
                n += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield Target("127.0.0.1", port, "/")


def split_everywhere(data: bytes, size: int = 3) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.anyio
async def test_content_length_bodies_on_one_keep_alive_connection() -> None:
    def reply(n: int) -> list[bytes]:
        body = b"a" * (1000 + n)
        return [b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body), body]

    async with raw_server(reply) as target:
        conn = await connect(target)
        sizes = [(await conn.get()).body_bytes for _ in range(5)]
        conn.close()
    assert sizes == [1000, 1001, 1002, 1003, 1004]


@pytest.mark.anyio
async def test_chunked_body_split_at_every_boundary() -> None:
    chunks = [b"x" * 5, b"y" * 300, b"z" * 17]
    body = (
        b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\nTrailer: t\r\n\r\n"
    )
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

    async with raw_server(lambda n: split_everywhere(head + body)) as target:
        conn = await connect(target)
        first, second = await conn.get(), await conn.get()
        conn.close()
    assert first.status == second.status == 200
    assert first.body_bytes == second.body_bytes == 322


@pytest.mark.anyio
async def test_bodiless_status_then_body_until_close() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        # HTTP/1.0 without a length: the body runs until the server hangs up.
        for piece in (b"HTTP/1.0 200 OK\r\n\r\n", b"q" * 4096, b"r" * 10):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.002)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        conn = await connect(Target("127.0.0.1", server.sockets[0].getsockname()[1], "/"))
        empty = await asyncio.wait_for(conn.get(), 5)
        assert (empty.status, empty.body_bytes) == (204, 0)
        assert conn.usable
        whole = await asyncio.wait_for(conn.get(), 5)
        assert (whole.status, whole.body_bytes) == (200, 4106)
        assert not conn.usable


@pytest.mark.anyio
async def test_garbage_is_an_error_not_a_hang() -> None:
    async with raw_server(lambda n: [b"SSH-2.0-OpenSSH\r\n\r\n"]) as target:
        conn = await connect(target)
        with pytest.raises(HttpError, match="status line"):
            await asyncio.wait_for(conn.get(), 5)
        assert not conn.usable


@pytest.mark.anyio
async def test_server_closing_mid_body_is_an_error() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly-this")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        conn = await connect(Target("127.0.0.1", server.sockets[0].getsockname()[1], "/"))
        with pytest.raises(HttpError, match="closed mid-response"):
            await asyncio.wait_for(conn.get(), 5)
        assert conn.body_so_far == len(b"only-this")


def test_target_from_url() -> None:
    target = Target.from_url("http://127.0.0.1:8123/lab/read/inline?file=a&delay_ms=3")
    assert (target.host, target.port) == ("127.0.0.1", 8123)
    assert target.request().startswith(b"GET /lab/read/inline?file=a&delay_ms=3 HTTP/1.1\r\n")
    with pytest.raises(ValueError, match="http://"):
        Target.from_url("https://example.org/")
