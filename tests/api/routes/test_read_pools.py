"""Each read bridge queues in its own pool: the loop stays free, the requests wait.

24 concurrent reads of 200 ms each: AnyIO's 40 tokens run them all at once; the
loop's default executor (``asyncio.to_thread``, aiofiles) runs ``min(32, cpus + 4)``
at a time, and read.executor's own pool 8. The batch cannot finish sooner than
its pool allows, and the loop stays responsive throughout.
"""

import math
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from app.api.routes.read import EXECUTOR_WORKERS
from looplab.testing import measure_lag

pytestmark = [pytest.mark.anyio, pytest.mark.timing]

REQUESTS = 24
DELAY_MS = 200
DEFAULT_EXECUTOR = min(32, (os.cpu_count() or 1) + 4)


@asynccontextmanager
async def assert_loop_free() -> AsyncIterator[None]:
    """No read held the loop: no stall as long as one read, unless the machine starved it."""
    async with measure_lag(stall_threshold_ms=DELAY_MS / 2) as lag:
        yield
    held = [s for s in lag.stalls if s.duration_ms >= DELAY_MS and s.kind != "starved"]
    assert not held, [stall.describe() for stall in held]


async def batch_seconds(client: httpx.AsyncClient, path: str) -> float:
    url = f"{path}?file=sample-4KiB.bin&delay_ms={DELAY_MS}"
    statuses: list[int] = []

    async def read() -> None:
        statuses.append((await client.get(url)).status_code)

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(REQUESTS):
            group.start_soon(read)
    took = time.perf_counter() - started
    assert statuses == [200] * REQUESTS
    return took


@pytest.mark.parametrize(
    ("approach", "workers"),
    [
        ("to-thread", DEFAULT_EXECUTOR),
        ("aiofiles", DEFAULT_EXECUTOR),
        ("executor", EXECUTOR_WORKERS),
    ],
)
async def test_a_small_pool_queues_the_reads_but_not_the_loop(
    lab_client: httpx.AsyncClient, approach: str, workers: int
) -> None:
    await lab_client.get(f"/lab/read/{approach}")  # first use: imports, the pool's threads
    async with assert_loop_free():
        took = await batch_seconds(lab_client, f"/lab/read/{approach}")
    # Reads go through the pool in waves of `workers`: no faster than that.
    waves = math.ceil(REQUESTS / workers)
    assert took >= 0.9 * waves * DELAY_MS / 1e3


async def test_anyios_forty_tokens_take_the_whole_batch_at_once(
    lab_client: httpx.AsyncClient,
) -> None:
    await lab_client.get("/lab/read/threadpool")
    async with assert_loop_free():
        took = await batch_seconds(lab_client, "/lab/read/threadpool")
    smallest_waves = math.ceil(REQUESTS / DEFAULT_EXECUTOR)
    assert took < smallest_waves * DELAY_MS / 1e3
