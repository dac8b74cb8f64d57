"""Stream a sync generator from the thread pool, and close it when the response ends.

Starlette's ``iterate_in_threadpool`` (what a ``StreamingResponse`` or a FastAPI
``def`` generator route uses) never closes the iterator it wraps. When the
client goes away mid-stream the generator is simply dropped, and its ``finally``
and ``with`` blocks (closing a file, stopping a producer) run only when the
garbage collector gets to it: with reference cycles about, that is whenever the
next collection happens, or never with ``gc.disable()``.

:func:`iterate_in_threadpool_closing` iterates the same way, one thread hop per
item, and closes the generator when iteration ends for any reason. The close
runs in a worker thread (it may block, like the generator's reads) inside a
scope shielded from cancellation, because the end of a response on disconnect
*is* a cancellation. :class:`ClosingStreamingResponse` wires it in, closes an
async body iterator as soon as the response ends, and checkpoints between
chunks so that a disconnect is noticed even while the body blocks the loop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Iterator, Mapping
from typing import TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread
from starlette.background import BackgroundTask
from starlette.responses import ContentStream, StreamingResponse
from starlette.types import Receive, Scope, Send

__all__ = ["ClosingStreamingResponse", "iterate_in_threadpool_closing"]

T = TypeVar("T")


class _Exhausted(Exception):
    # StopIteration cannot cross a thread hop (a coroutine may not raise it).
    pass


def _next(iterator: Iterator[T]) -> list[T]:
    # The item comes back in a list that the caller empties: an AnyIO worker
    # thread keeps a reference to the last value it returned until its next job,
    # so with a large chunk per item every idle worker would pin one chunk.
    try:
        return [next(iterator)]
    except StopIteration:
        raise _Exhausted from None


def _close(iterator: Iterator[object]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


async def iterate_in_threadpool_closing(iterable: Iterable[T]) -> AsyncGenerator[T]:
    """Iterate ``iterable`` in the thread pool, one hop per item; always close it at the end.

    The iterator's ``close()`` (a generator's ``finally``) runs in a worker thread,
    shielded from cancellation, whether iteration finished, failed, or was
    cancelled because the client disconnected.
    """
    iterator = iter(iterable)
    try:
        while True:
            try:
                box = await anyio.to_thread.run_sync(_next, iterator)
            except _Exhausted:
                return
            yield box.pop()
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_close, iterator)


class ClosingStreamingResponse(StreamingResponse):
    """A ``StreamingResponse`` that closes its body iterator as soon as the response ends.

    A sync iterable is iterated with :func:`iterate_in_threadpool_closing`; an
    async generator is ``aclose()``-d (shielded) when the response is done, sent
    or not, instead of whenever the garbage collector finalizes it.
    """

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        if not isinstance(content, AsyncIterable):
            content = iterate_in_threadpool_closing(content)
        super().__init__(content, status_code, headers, media_type, background)

    async def stream_response(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        async for chunk in self.body_iterator:
            body = chunk if isinstance(chunk, bytes | memoryview) else chunk.encode(self.charset)
            await send({"type": "http.response.body", "body": body, "more_body": True})
            # Sending rarely suspends, so a generator that never awaits would keep
            # the loop from even noticing a disconnect: give it the chance between
            # chunks (FastAPI's own ``yield`` routes do the same).
            await anyio.lowlevel.checkpoint()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
