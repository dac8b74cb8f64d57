"""A small ASGI app for the bench's tests, served by a real uvicorn in a subprocess.

It has what the probe and the load generator must cope with and nothing else:
a cheap ``/ping``, a route that stalls the event loop on demand, bodies sent
with ``content-length``, ``chunked`` and read-until-close framing, and a
counter of the requests it has answered. It serves no ``/lab``: to the bench
it is "anyone's app".
"""

import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

answered = {"bytes": 0}


def _count(request: Request) -> None:
    if request.url.path.startswith("/bytes"):
        answered["bytes"] += 1


async def ping(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def stall(request: Request) -> Response:
    # 🚨 On purpose: time.sleep holds the event loop, so every request waits.
    time.sleep(int(request.query_params.get("ms", "1000")) / 1000)  # noqa: ASYNC251 (the stall under test)
    return PlainTextResponse("stalled")


async def fixed_bytes(request: Request) -> Response:
    """``n`` bytes with a content-length."""
    _count(request)
    return Response(b"x" * int(request.query_params["n"]), media_type="application/octet-stream")


async def chunked_bytes(request: Request) -> Response:
    """``n`` bytes in ``chunk``-byte chunks, chunked transfer encoding."""
    _count(request)
    n, chunk = int(request.query_params["n"]), int(request.query_params.get("chunk", "1000"))

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, n, chunk):
            yield b"y" * min(chunk, n - start)

    return StreamingResponse(body(), media_type="application/octet-stream")


async def count(request: Request) -> Response:
    return JSONResponse(answered)


app = Starlette(
    routes=[
        Route("/ping", ping),
        Route("/stall", stall),
        Route("/bytes/fixed", fixed_bytes),
        Route("/bytes/chunked", chunked_bytes),
        Route("/count", count),
    ]
)
