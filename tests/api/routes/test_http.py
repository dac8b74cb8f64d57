import socket
import time
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
from fastapi import FastAPI

from app.api.routes.http import POOL_SIZE, POOL_TIMEOUT_S
from app.upstream import STOP_TIMEOUT_S, running_upstream
from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries

from .conftest import disconnect_midway

pytestmark = pytest.mark.anyio

HTTP = over_entries(entries("http"))


@HTTP
async def test_http_waits_for_the_upstream(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    response = await lab_client.get(entry.path, params={"upstream_ms": 150})
    assert response.status_code == 200
    body = response.json()
    assert body["upstream_ms"] == 150
    assert 150 <= body["elapsed_ms"] < 150 + 2000


@HTTP
async def test_http_zero_delay_is_quick(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    response = await lab_client.get(entry.path)
    assert response.status_code == 200
    assert response.json()["upstream_ms"] == 0
    assert response.elapsed.total_seconds() < 2


async def test_httpx_async_pool_timeout_is_a_503_with_retry_after(
    lab_client: httpx.AsyncClient,
) -> None:
    # POOL_SIZE answers hold the pool longer than the pool timeout: the rest time out.
    slow_ms = int(POOL_TIMEOUT_S * 1000) + 800
    statuses: list[int] = []
    retry_after: set[str] = set()

    async def call() -> None:
        response = await lab_client.get("/lab/http/httpx-async", params={"upstream_ms": slow_ms})
        statuses.append(response.status_code)
        if response.status_code == 503:
            retry_after.add(response.headers["retry-after"])
            assert "PoolTimeout" in response.json()["detail"]

    async with anyio.create_task_group() as group:
        for _ in range(POOL_SIZE + 3):
            group.start_soon(call)
    assert sorted(statuses) == [200] * POOL_SIZE + [503] * 3
    assert retry_after == {"1"}


async def test_httpx_pool_timeout_restarts_whenever_a_connection_frees(
    lab_client: httpx.AsyncClient,
) -> None:
    # httpcore 1.0.9 (encode/httpcore#822): a queued request that wakes for a connection
    # another request takes waits again with a fresh pool timeout. With answers faster
    # than the timeout, requests queue far longer than it, and none gets a PoolTimeout.
    answer_ms = 400
    waited: list[float] = []

    async def call() -> None:
        response = await lab_client.get("/lab/http/httpx-async", params={"upstream_ms": answer_ms})
        assert response.status_code == 200
        waited.append(response.json()["elapsed_ms"] - answer_ms)

    async with anyio.create_task_group() as group:
        for _ in range(POOL_SIZE * 4):
            group.start_soon(call)
    assert max(waited) > POOL_TIMEOUT_S * 1000 + 100


async def test_httpx_requests_abandoned_in_the_pool_queue_leave_the_pool_whole(
    lab_app: FastAPI,
) -> None:
    # Clients that hang up while their requests wait for a connection cancel them there;
    # the pool must get every connection back (encode/httpcore#1093 says it may not).
    async with lab_app.router.lifespan_context(lab_app):
        async with anyio.create_task_group() as group:
            for _ in range(POOL_SIZE * 3):
                group.start_soon(
                    disconnect_midway, lab_app, "/lab/http/httpx-async", {"upstream_ms": 500}, 0.2
                )
        transport = httpx.ASGITransport(app=lab_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
            for _ in range(2):
                async with anyio.create_task_group() as group:
                    for _ in range(POOL_SIZE):
                        group.start_soon(_expect_ok, client)


async def _expect_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/lab/http/httpx-async", params={"upstream_ms": 50})
    assert response.status_code == 200, response.text


async def test_the_upstream_is_local_and_stops_with_its_lifespan() -> None:
    async with running_upstream() as url:
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1"
        async with httpx.AsyncClient() as client:
            answer = await client.get(url, params={"delay_ms": 20})
        assert answer.json() == {"delay_ms": 20}
        leaving = time.monotonic()
    # Closing its standard input ends it at once; the kill after STOP_TIMEOUT_S is a backstop.
    assert time.monotonic() - leaving < STOP_TIMEOUT_S
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((parts.hostname, parts.port or 80), timeout=1).close()


async def test_each_app_process_starts_its_own_upstream(lab_app: FastAPI) -> None:
    # As each uvicorn worker does: its own lifespan, its own upstream (started on the
    # family's first request), no shared state.
    async with lab_app.router.lifespan_context(lab_app), running_upstream() as other:
        assert (await lab_app.state.upstream.get()).url != other
