"""Work stops when its client leaves: a flag the work checks, set when the client disconnects.

FastAPI listens for a disconnect only while it streams; a plain route, and above
all a ``def`` route in a worker thread, runs to the end for nobody. So each lab
request runs under :class:`StopOnDisconnect`: it forwards the request's messages
to the app and watches for ``http.disconnect``. When the client goes, it sets the
request's stop flag (a ``threading.Event`` in a context variable, which AnyIO
carries into worker threads and ``syncify`` back onto the loop) and cancels the
request's scope, so awaits end at once and the work ends at its next checkpoint:
between reads, chunks, tokens and CPU rounds (:func:`checkpoint`).

What it cannot stop is a blocking call already running: a read sleeping its
``delay_ms``, a CPU round. And an inline anti-pattern holds the loop, so the
watcher cannot even run until it yields: it stops only at its own awaits.
"""

from __future__ import annotations

import asyncio
import math
import threading
from contextvars import ContextVar

import anyio
import anyio.lowlevel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CLIENT_GONE", "Disconnected", "StopOnDisconnect", "checkpoint", "client_gone"]

# No client will read it; it keeps the exception out of the server's error log.
CLIENT_GONE = 499

_stop: ContextVar[threading.Event | None] = ContextVar("looplab_stop", default=None)


class Disconnected(Exception):
    """The client left: the work stopped at a checkpoint instead of finishing for nobody."""


def checkpoint() -> None:
    """Raise :class:`Disconnected` if this request's client has left; a no-op otherwise."""
    stop = _stop.get()
    if stop is not None and stop.is_set():
        raise Disconnected


async def client_gone(request: Request, exc: Exception) -> Response:
    """The exception handler for :class:`Disconnected`."""
    return Response(status_code=CLIENT_GONE)


class StopOnDisconnect:
    """ASGI middleware: HTTP requests under ``prefix`` stop when their client disconnects."""

    def __init__(self, app: ASGIApp, prefix: str = "/lab/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        stop = threading.Event()
        token = _stop.set(stop)
        messages_in, messages_out = anyio.create_memory_object_stream[Message](math.inf)
        with anyio.CancelScope() as work:

            async def watch() -> None:
                # Every message goes on to the app; a disconnect also stops the work.
                while True:
                    message = await receive()
                    messages_in.send_nowait(message)
                    if message["type"] == "http.disconnect":
                        stop.set()
                        work.cancel()
                        return

            # A plain asyncio task, cancelled when the request is answered: a task group
            # per request cost a few hundred microseconds (benchmarks/disconnect_overhead.py).
            # The lab runs on asyncio's loop or uvloop only.
            watcher = asyncio.get_running_loop().create_task(watch())
            try:
                # Let the watcher look first: a request whose client is already gone (it
                # waited behind a blocked loop) is cancelled before any of its work starts.
                await anyio.lowlevel.checkpoint()
                await self.app(scope, messages_out.receive, send)
            finally:
                watcher.cancel()
                _stop.reset(token)
                messages_in.close()
                messages_out.close()
