"""The read family against a real uvicorn, judged from its own /monitor (remote mode)."""

from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio
import httpx
import pytest

from app.catalogue import CATALOGUE, Entry
from looplab.server import ServerProcess
from looplab.testing import LagMeasurement, assert_responsive
from looplab.verdict import Lag, verdict

pytestmark = [pytest.mark.anyio, pytest.mark.timing, pytest.mark.server]

READ_ENTRIES = [entry for entry in CATALOGUE if entry.family == "read"]
CONCURRENCY = 4


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ServerProcess]:
    with ServerProcess(env={"LOOPLAB_DATA_DIR": str(data_dir)}) as running:
        yield running


async def _run_batch(client: httpx.AsyncClient, entry: Entry) -> None:
    async def one() -> None:
        response = await client.get(entry.path, params=entry.load)
        assert response.status_code == 200, response.text

    async with anyio.create_task_group() as group:
        for _ in range(CONCURRENCY):
            group.start_soon(one)


def _judge(url: str, entry: Entry) -> AbstractAsyncContextManager[LagMeasurement]:
    cost = entry.load_cost_ms
    if entry.expect == "blocks":
        # It must fail an assertion that allows less than 60% of the cost.
        return assert_responsive(url=url, max_lag_ms=0.6 * cost)
    return assert_responsive(url=url, p99_ms=min(0.25 * cost, 60))


@pytest.mark.parametrize("entry", READ_ENTRIES, ids=[e.id for e in READ_ENTRIES])
async def test_read_entry_over_http(server: ServerProcess, entry: Entry) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        await _run_batch(client, entry)  # warm-up
        if entry.expect == "blocks":
            with pytest.raises(AssertionError, match="not responsive") as failure:
                async with _judge(server.url, entry) as lag:
                    await _run_batch(client, entry)
            # The message names the line that blocked.
            assert "app/work.py" in str(failure.value)
        else:
            # Noise only adds lag: a responsive entry may try three times.
            for attempt in range(3):
                try:
                    async with _judge(server.url, entry) as lag:
                        await _run_batch(client, entry)
                    break
                except AssertionError:
                    if attempt == 2:
                        raise
    measured = Lag(max_ms=lag.max_ms, p99_ms=lag.p99_ms)
    print(f"\nlooplab-timing-e2e {entry.id}: max {lag.max_ms:.1f} ms, p99 {lag.p99_ms:.1f} ms")
    assert verdict(measured, entry.load_cost_ms) == entry.expect
