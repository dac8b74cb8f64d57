"""The read family against a real uvicorn, judged from its own /monitor (remote mode).

The judgement is ``looplab.verdict``'s, the one rule the bench and the in-process
timing tests use; ``assert_responsive`` only reads the server's figures (and, for
the blocking approach, must fail with a message naming the line that blocked).
"""

import math
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio
import httpx
import pytest

from app.cli import APP
from app.core.config import DATA_DIR_ENV
from looplab.bench import ServerProcess
from looplab.protocol import CatalogueEntry
from looplab.testing import LagMeasurement, assert_responsive
from looplab.verdict import BLOCKS_FRACTION, Lag, verdict
from tests.utils.catalogue import entries, over_entries

pytestmark = [pytest.mark.anyio, pytest.mark.timing, pytest.mark.server]

CONCURRENCY = 4
RESPONSIVE_TRIES = 3


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ServerProcess]:
    with ServerProcess(APP, env={DATA_DIR_ENV: str(data_dir)}) as running:
        yield running


async def _run_batch(client: httpx.AsyncClient, entry: CatalogueEntry) -> None:
    async def one() -> None:
        response = await client.get(entry.url(str(client.base_url)))
        assert response.status_code == 200, response.text

    async with anyio.create_task_group() as group:
        for _ in range(CONCURRENCY):
            group.start_soon(one)


def _measure(url: str) -> AbstractAsyncContextManager[LagMeasurement]:
    # The server's figures over the block, with no limit of their own: the verdict judges.
    return assert_responsive(url=url, max_lag_ms=math.inf)


def _lag(measured: LagMeasurement) -> Lag:
    return Lag(max_ms=measured.max_ms, p99_ms=measured.p99_ms)


@over_entries(entries("read"))
async def test_read_entry_over_http(server: ServerProcess, entry: CatalogueEntry) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        await _run_batch(client, entry)  # warm-up
        if entry.expect == "blocks":
            # Blocking by the rule means a stall of BLOCKS_FRACTION of the cost at least:
            # an assertion that allows less fails, and its message names the line.
            with pytest.raises(AssertionError, match="not responsive") as failure:
                async with assert_responsive(
                    url=server.url, max_lag_ms=BLOCKS_FRACTION * entry.cost_ms
                ) as measured:
                    await _run_batch(client, entry)
            assert "app/work.py" in str(failure.value)
        else:
            # Noise only adds lag: a responsive entry may try three times.
            for _attempt in range(RESPONSIVE_TRIES):
                async with _measure(server.url) as measured:
                    await _run_batch(client, entry)
                if verdict(_lag(measured), entry.cost_ms) == entry.expect:
                    break
    lag = _lag(measured)
    print(f"\nlooplab-timing-e2e {entry.id}: max {lag.max_ms:.1f} ms, p99 {lag.p99_ms:.1f} ms")
    assert verdict(lag, entry.cost_ms) == entry.expect, (entry.id, lag)
