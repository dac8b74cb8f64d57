"""The thread pool's limit, against a real uvicorn with few thread tokens.

``def`` routes queue for a token rather than fail, and the loop stays free
meanwhile. But a ``def`` route that ``syncify``-s async work which itself needs
a token can deadlock the pool: every token held by a route that waits for work
that waits for a token.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from app.catalogue import by_id
from app.cli import APP
from app.core.config import DATA_DIR_ENV
from looplab.bench import ServerProcess
from looplab.protocol import MonitorSnapshot, ThreadPoolFigures
from tests.utils.heap import frozen_heap

pytestmark = [pytest.mark.anyio, pytest.mark.timing, pytest.mark.server]


@pytest.fixture
def server_with_tokens(data_dir: Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    env = {DATA_DIR_ENV: str(data_dir), "LOOPLAB_THREAD_TOKENS": str(request.param)}
    running = ServerProcess(APP, env=env).start()
    try:
        yield running
    finally:
        # A deadlocked server never finishes its requests: do not wait long for it.
        running.stop(timeout=2)


def _threadpool(response: httpx.Response) -> ThreadPoolFigures:
    assert response.status_code == 200, response.text
    return MonitorSnapshot.model_validate_json(response.content).threadpool


async def _ping_while(client: httpx.AsyncClient, done: anyio.Event) -> list[float]:
    latencies = []
    while not done.is_set():
        started = time.perf_counter()
        response = await client.get("/ping")
        assert response.json() == {"ok": True}
        latencies.append(time.perf_counter() - started)
        await anyio.sleep(0.05)
    return latencies


@pytest.mark.parametrize("server_with_tokens", [4], indirect=True)
async def test_threadpool_requests_queue_for_tokens_while_ping_stays_fast(
    server_with_tokens: ServerProcess,
) -> None:
    url = server_with_tokens.url
    params = {"file": "sample-4KiB.bin", "delay_ms": 300}
    limits = httpx.Limits(max_connections=32)
    statuses: list[int] = []
    latencies: list[float] = []
    done = anyio.Event()
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        # One request first: a fresh server's first call of a route pays one-time costs
        # on the loop (validators, imports) that are not what this test is about.
        warm = await client.get(by_id("read.threadpool").path, params={"file": "sample-4KiB.bin"})
        assert warm.status_code == 200
        await client.get("/monitor", params={"window": "tokens", "reset": "true"})

        async def one() -> None:
            response = await client.get(by_id("read.threadpool").path, params=params)
            statuses.append(response.status_code)

        async def pinger() -> None:
            latencies.extend(await _ping_while(client, done))

        started = time.perf_counter()
        # /ping is timed from this process: its own garbage must not pause it.
        with frozen_heap():
            async with anyio.create_task_group() as group:
                group.start_soon(pinger)
                async with anyio.create_task_group() as requests:
                    for _ in range(12):
                        requests.start_soon(one)
                elapsed = time.perf_counter() - started
                done.set()
        pool = _threadpool(await client.get("/monitor", params={"window": "tokens"}))
    # 12 requests of 300 ms through 4 tokens: three waves, none refused.
    assert statuses == [200] * 12
    assert elapsed >= 0.85
    assert pool.total_tokens == 4
    assert pool.peak_borrowed <= 4
    assert len(latencies) >= 5
    assert max(latencies) < 0.25, latencies


@pytest.mark.parametrize("server_with_tokens", [2], indirect=True)
async def test_syncify_deadlocks_when_the_producer_needs_a_token_too(
    server_with_tokens: ServerProcess,
) -> None:
    url = server_with_tokens.url
    params = {"items": 5, "item_delay_ms": 100, "source": "thread"}
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        # Alone, it works: the route holds one token, its producer borrows the other.
        alone = await client.get(by_id("produce.syncify").path, params=params)
        assert alone.status_code == 200
        assert len(alone.json()["items"]) == 5

        # Two at once: both routes hold a token, both producers wait for one: stuck for
        # as long as their clients wait.
        timed_out: list[bool] = []

        async def one() -> None:
            try:
                await client.get(by_id("produce.syncify").path, params=params, timeout=3)
            except httpx.ReadTimeout:
                timed_out.append(True)

        async with anyio.create_task_group() as group:
            for _ in range(2):
                group.start_soon(one)
            await anyio.sleep(1.5)
            # The loop itself is fine (the pool is what is stuck), so a probe still answers...
            started = time.perf_counter()
            assert (await client.get("/ping")).json() == {"ok": True}
            assert time.perf_counter() - started < 1
            # ...and the monitor shows every token borrowed, with producers waiting.
            pool = _threadpool(await client.get("/monitor"))
            assert pool.borrowed == 2
            assert pool.waiting >= 2
        assert timed_out == [True, True]
        # The clients gave up: the lab's stop flag ends the stuck work and frees the tokens.
        for _ in range(60):  # 3 s at most: the server's state is polled, not awaited
            pool = _threadpool(await client.get("/monitor"))
            if not pool.borrowed:
                break
            await anyio.sleep(0.05)
        assert (pool.borrowed, pool.waiting) == (0, 0)
        # Work that needs no thread token still gets done.
        response = await client.get(
            by_id("produce.async").path, params={**params, "source": "async"}
        )
        assert response.status_code == 200
