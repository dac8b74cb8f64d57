"""The load generator counts every request and byte, whatever the framing, and ends on time."""

import json
import time
import urllib.request

import pytest

from looplab.bench import ServerProcess
from looplab.bench._load import load

pytestmark = [pytest.mark.server, pytest.mark.anyio]


def answered(server: ServerProcess) -> int:
    with urllib.request.urlopen(server.url + "/count") as response:
        return int(json.load(response)["bytes"])


@pytest.mark.parametrize("framing", ["fixed", "chunked"])
async def test_every_body_byte_is_counted(test_server: ServerProcess, framing: str) -> None:
    n = 100_000
    before = answered(test_server)
    started = time.monotonic()
    result = await load(
        f"{test_server.url}/bytes/{framing}?n={n}&chunk=7000", concurrency=4, duration_s=1.0
    )
    elapsed = time.monotonic() - started
    served = answered(test_server) - before

    assert result.errors == 0
    assert result.requests > 10
    # Whole responses count fully; the (at most 4) cut off at the deadline count what arrived.
    assert result.requests * n <= result.body_bytes < (result.requests + 4) * n
    # The server answered every request the client counted, plus those cut off.
    assert result.requests <= served <= result.requests + 4
    assert result.throughput_rps == pytest.approx(result.requests / 1.0)
    assert 0 < result.work_ms.p50 <= result.work_ms.p99 <= result.work_ms.max
    assert elapsed < 5  # it ends at its deadline, not when it feels like it


async def test_errors_are_counted_not_raised(test_server: ServerProcess) -> None:
    result = await load(test_server.url + "/no-such-route", concurrency=2, duration_s=0.5)
    assert result.requests > 0
    assert result.errors == result.requests  # every 404 is an error


async def test_a_dead_port_is_errors_not_a_crash() -> None:
    with ServerProcess("tests.looplab.bench.apps:app", ready_path="/ping") as server:
        url = server.url
    result = await load(url + "/ping", concurrency=2, duration_s=0.5)
    assert result.requests == 0
    assert result.errors > 0
