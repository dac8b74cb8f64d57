import threading
import time
import weakref
from collections.abc import Generator, Iterator
from contextlib import aclosing

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from app.streaming import ClosingStreamingResponse, iterate_in_threadpool_closing

pytestmark = pytest.mark.anyio


class Tracked:
    """A sync generator that records where its finally ran."""

    def __init__(self, items: int) -> None:
        self.items = items
        self.closed_in: str | None = None

    def __iter__(self) -> Generator[bytes]:
        try:
            for i in range(self.items):
                yield f"{i},".encode()
        finally:
            self.closed_in = threading.current_thread().name


async def test_iterates_in_a_worker_thread_and_closes_at_the_end() -> None:
    tracked = Tracked(3)
    items = [item async for item in iterate_in_threadpool_closing(iter(tracked))]
    assert items == [b"0,", b"1,", b"2,"]
    assert tracked.closed_in is not None
    assert tracked.closed_in != threading.current_thread().name


async def test_closes_the_generator_when_iteration_stops_early() -> None:
    tracked = Tracked(1000)
    stream = iterate_in_threadpool_closing(iter(tracked))
    assert await anext(stream) == b"0,"
    await stream.aclose()
    assert tracked.closed_in is not None
    assert tracked.closed_in != threading.current_thread().name


class Slow(Tracked):
    def __iter__(self) -> Generator[bytes]:
        try:
            for i in range(self.items):
                time.sleep(0.05)
                yield f"{i},".encode()
        finally:
            self.closed_in = threading.current_thread().name


async def test_closes_the_generator_when_cancelled_mid_item() -> None:
    # Cancelled while a worker thread computes the next item: the item is awaited,
    # then the generator is closed in a worker thread despite the cancellation.
    slow = Slow(1000)
    with anyio.move_on_after(0.12):
        async for _ in iterate_in_threadpool_closing(iter(slow)):
            pass
    assert slow.closed_in is not None
    assert slow.closed_in != threading.current_thread().name


async def test_a_consumer_cancelled_between_items_closes_it_with_aclosing() -> None:
    # Suspended at a yield, an async generator runs its finally only when closed:
    # the consumer's job (ClosingStreamingResponse does it for responses).
    tracked = Tracked(1000)
    with anyio.move_on_after(0.05):
        async with aclosing(iterate_in_threadpool_closing(iter(tracked))) as stream:
            async for _ in stream:
                await anyio.sleep(10)
    assert tracked.closed_in is not None


async def test_plain_iterators_are_fine() -> None:
    items: Iterator[int] = iter([1, 2, 3])
    assert [i async for i in iterate_in_threadpool_closing(items)] == [1, 2, 3]


def test_closing_response_closes_sync_and_async_bodies() -> None:
    tracked = Tracked(3)
    closed: list[str] = []

    async def chunks() -> Generator[bytes]:  # type: ignore[misc]
        try:
            yield b"a"
            yield b"b"
        finally:
            closed.append("async")

    async def sync_body(request: Request) -> ClosingStreamingResponse:
        return ClosingStreamingResponse(iter(tracked), media_type="text/plain")

    async def async_body(request: Request) -> ClosingStreamingResponse:
        return ClosingStreamingResponse(chunks(), media_type="text/plain")

    app = Starlette(routes=[Route("/sync", sync_body), Route("/async", async_body)])
    with TestClient(app) as client:
        assert client.get("/sync").text == "0,1,2,"
        assert client.get("/async").text == "ab"
    assert tracked.closed_in is not None
    assert closed == ["async"]


class Chunk:
    """Stands in for a large chunk; weak references tell when it is freed."""


async def test_iterate_in_threadpool_pins_no_chunk_once_consumed() -> None:
    # An AnyIO worker holds its last return value until its next job: were the
    # chunk that value, every idle worker would keep one alive (measured: ~15 MiB
    # of 1 MiB chunks while streaming a file).
    def chunks() -> Generator[Chunk]:
        for _ in range(3):
            yield Chunk()

    async with aclosing(iterate_in_threadpool_closing(chunks())) as stream:
        async for chunk in stream:
            freed = weakref.ref(chunk)
            del chunk
            assert freed() is None
