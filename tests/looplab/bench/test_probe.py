"""The probe is open-loop: a stall shows in its p99, as users arriving during it feel it."""

import asyncio
import time
import urllib.request

import pytest

from looplab.bench import ServerProcess
from looplab.bench._probe import probe

pytestmark = [pytest.mark.server, pytest.mark.anyio]


def closed_loop_latencies(url: str, duration_s: float) -> list[float]:
    """What a closed-loop client records: one sample per answer, none while it waits."""
    latencies = []
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        started = time.monotonic()
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
        latencies.append((time.monotonic() - started) * 1e3)
    return latencies


def stall(url: str, stall_ms: int) -> None:
    with urllib.request.urlopen(f"{url}/stall?ms={stall_ms}", timeout=30) as response:
        response.read()


async def stall_after(url: str, delay_s: float, stall_ms: int) -> None:
    # From a thread: the test's own loop (where the probe runs) must stay free.
    await asyncio.sleep(delay_s)
    await asyncio.to_thread(stall, url, stall_ms)


@pytest.mark.timing
async def test_one_stall_shows_in_the_probe_p99(test_server: ServerProcess) -> None:
    # 3 s at 100/s with one 1 s stall at t=1 s: about a third of the requests are
    # due while the loop is held, so the stall must reach p90 and p99. A
    # closed-loop client over the same kind of window records it once.
    probing = asyncio.create_task(
        probe(test_server.url + "/ping", rate_hz=100, duration_s=3.0, connections=8)
    )
    await stall_after(test_server.url, 1.0, 1000)
    result = await probing

    assert result.errors == 0
    assert result.completed == result.sent == 300
    assert result.probe_ms.max >= 900  # the first request due in the stall waited it all
    assert result.probe_ms.p99 >= 800
    assert result.probe_ms.p90 >= 300
    assert result.probe_ms.p50 < 100  # outside the stall the server is fast
    # The trace places the stall in time: the worst buckets are within [1 s, 2 s].
    worst_t = result.trace.t_s[result.trace.probe_ms.index(max(result.trace.probe_ms))]
    assert 0.9 <= worst_t <= 2.1


@pytest.mark.timing
async def test_closed_loop_hides_the_same_stall(test_server: ServerProcess) -> None:
    # The contrast the probe exists for: the same stall, one slow sample among many.
    stalling = asyncio.create_task(stall_after(test_server.url, 1.0, 1000))
    latencies = await asyncio.to_thread(closed_loop_latencies, test_server.url + "/ping", 3.0)
    await stalling
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)]
    assert max(latencies) >= 500  # it did see the stall, once
    assert p99 < 500  # but its p99 misses it


async def test_idle_probe_is_fast_and_complete(test_server: ServerProcess) -> None:
    result = await probe(test_server.url + "/ping", rate_hz=200, duration_s=1.0)
    assert (result.sent, result.completed, result.errors) == (200, 200, 0)
    assert 0 < result.probe_ms.p50 <= result.probe_ms.p99 <= result.probe_ms.max


async def test_unanswered_requests_count_as_errors_at_their_latency(
    test_server: ServerProcess,
) -> None:
    # A stall longer than the probe's patience: the requests still waiting are
    # errors, recorded at the latency they had reached, never silently dropped.
    probing = asyncio.create_task(
        probe(test_server.url + "/ping", rate_hz=50, duration_s=1.0, timeout_s=0.5)
    )
    await stall_after(test_server.url, 0.5, 2500)
    result = await probing
    assert result.errors > 0
    assert result.probe_ms.max >= 900
