"""The ``http`` family: one call to a slow upstream HTTP service, in four approaches.

The upstream (``app.upstream``) is a process the router's lifespan starts, on
127.0.0.1, answering after ``upstream_ms``; the lifespan also makes the shared
clients. What differs is only the client, and where its waiting happens.
"""

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, cast

import anyio
import anyio.from_thread
import httpx
import requests
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from pydantic import BaseModel

from app.api.catalogued import catalogued
from app.api.params import UpstreamMs
from app.catalogue import UPSTREAM_MS
from app.upstream import running_upstream
from looplab.protocol import Message

__all__ = ["POOL_SIZE", "POOL_TIMEOUT_S", "HttpResponse", "Upstream", "router"]

# The async client's pool, deliberately small so that its limit shows under load.
POOL_SIZE = 4
POOL_TIMEOUT_S = 1.0
# The slowest answer a request may ask for, and room to spare.
TIMEOUT_S = UPSTREAM_MS.max / 1000 + 5


@dataclass(frozen=True)
class Upstream:
    """This process's upstream service and the clients shared by its requests."""

    url: str
    async_client: httpx.AsyncClient
    sync_client: httpx.Client


class _LazyUpstream:
    """Starts the upstream and its clients on the family's first request, for the lifespan.

    Started on first use, not at startup: an app that never calls the http family (a
    test of another family, a worker that only serves reads) spawns no process.
    """

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack
        self._lock = anyio.Lock()
        self._started: Upstream | None = None

    async def get(self) -> Upstream:
        async with self._lock:
            if self._started is None:
                self._started = await self._start()
        return self._started

    async def _start(self) -> Upstream:
        limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
        timeout = httpx.Timeout(TIMEOUT_S, pool=POOL_TIMEOUT_S)
        stack = self._stack
        url = await stack.enter_async_context(running_upstream())
        async_client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout)
        )
        sync_client = stack.enter_context(httpx.Client(base_url=url, timeout=TIMEOUT_S))
        return Upstream(url, async_client, sync_client)


class _NoLifespan:
    """What an app driven without its lifespan gets: a clear error on use, not a 500 first."""

    async def get(self) -> Upstream:
        raise RuntimeError("the http family's upstream is made in the app's lifespan")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        app.state.upstream = _LazyUpstream(stack)
        try:
            yield
        finally:
            del app.state.upstream


router = APIRouter(prefix="/lab/http", tags=["http"], lifespan=lifespan)


async def _upstream(request: Request) -> _LazyUpstream:
    # The holder, not the upstream: a request that fails validation starts nothing.
    holder = getattr(request.app.state, "upstream", None)
    if holder is None:
        return cast(_LazyUpstream, _NoLifespan())
    return cast(_LazyUpstream, holder)


UpstreamClients = Annotated[_LazyUpstream, Depends(_upstream)]


class HttpResponse(BaseModel):
    # What the upstream said it waited, and the whole round trip as the route saw it.
    upstream_ms: int
    elapsed_ms: float


def _respond(answer: httpx.Response | requests.Response, started: float) -> HttpResponse:
    answer.raise_for_status()
    return HttpResponse(
        upstream_ms=answer.json()["delay_ms"], elapsed_ms=(time.perf_counter() - started) * 1000
    )


def _pool_busy() -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"All {POOL_SIZE} connections to the upstream stayed busy for {POOL_TIMEOUT_S:g} s "
        "(httpx.PoolTimeout): try again later.",
        headers={"Retry-After": "1"},
    )


_HTTPX_ASYNC = catalogued("http.httpx-async")
_HTTPX_ASYNC["responses"][status.HTTP_503_SERVICE_UNAVAILABLE] = {
    "description": "The shared client's connection pool stayed full for the pool timeout "
    "(httpx.PoolTimeout): the lesson's limit, not a failure to hide.",
    "content": {"application/json": {"schema": Message.model_json_schema()}},
    "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
}


# 🚨 Don't use this: requests blocks, so the loop waits out the whole round trip.
@router.get("/requests", **catalogued("http.requests"))
async def get_with_requests(
    clients: UpstreamClients, upstream_ms: UpstreamMs = UPSTREAM_MS.default
) -> HttpResponse:
    upstream = await clients.get()
    started = time.perf_counter()
    answer = requests.get(  # noqa: ASYNC210 - the anti-pattern on show
        upstream.url, params={"delay_ms": upstream_ms}, timeout=TIMEOUT_S
    )
    return _respond(answer, started)


# ✅ A def route: the same blocking call waits in a worker thread.
@router.get("/requests-threadpool", **catalogued("http.requests-threadpool"))
def get_with_requests_threadpool(
    clients: UpstreamClients, upstream_ms: UpstreamMs = UPSTREAM_MS.default
) -> HttpResponse:
    upstream = anyio.from_thread.run(clients.get)
    started = time.perf_counter()
    answer = requests.get(upstream.url, params={"delay_ms": upstream_ms}, timeout=TIMEOUT_S)
    return _respond(answer, started)


# ✅ An async client: the loop awaits the socket; the small shared pool is the limit.
@router.get("/httpx-async", **_HTTPX_ASYNC)
async def get_with_httpx_async(
    clients: UpstreamClients, upstream_ms: UpstreamMs = UPSTREAM_MS.default
) -> HttpResponse:
    upstream = await clients.get()
    started = time.perf_counter()
    try:
        answer = await upstream.async_client.get("/", params={"delay_ms": upstream_ms})
    except httpx.PoolTimeout:
        raise _pool_busy() from None
    return _respond(answer, started)


# 🚨 Don't use this: httpx.Client is the sync client, and blocks the loop like requests.
@router.get("/httpx-sync-in-async", **catalogued("http.httpx-sync-in-async"))
async def get_with_httpx_sync(
    clients: UpstreamClients, upstream_ms: UpstreamMs = UPSTREAM_MS.default
) -> HttpResponse:
    upstream = await clients.get()
    started = time.perf_counter()
    answer = upstream.sync_client.get("/", params={"delay_ms": upstream_ms})
    return _respond(answer, started)
