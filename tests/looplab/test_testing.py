"""looplab.testing on a small app: the blocking route fails with its line named, the fix passes."""

import time

import httpx
import pytest

from looplab.bench import ServerProcess
from looplab.testing import assert_responsive, expect_blocking, measure_lag
from tests.looplab import sample_app
from tests.looplab.sample_app import app, line_of

pytestmark = [pytest.mark.anyio, pytest.mark.timing]

SLEEP_LINE = line_of(sample_app.slow_route, "time.sleep(")


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_assert_responsive_fails_naming_the_blocking_line() -> None:
    with pytest.raises(AssertionError) as failure:
        async with client() as http, assert_responsive(max_lag_ms=100, app=app):
            await http.get("/slow")
    message = str(failure.value)
    assert f"{sample_app.__file__}:{SLEEP_LINE} in slow_route" in message
    assert "route /slow" in message
    assert "max lag" in message


async def test_assert_responsive_passes_with_asyncify() -> None:
    async with client() as http, assert_responsive(max_lag_ms=100, app=app) as lag:
        response = await http.get("/fixed")
    assert response.json() == {"slept": True}
    assert lag.samples > 10
    assert lag.stalls == []


async def test_assert_responsive_p99_limit() -> None:
    with pytest.raises(AssertionError, match="p99 lag"):
        async with assert_responsive(p99_ms=50):
            time.sleep(0.3)  # noqa: ASYNC251 (the block under test)


async def test_expect_blocking_passes_when_blocked() -> None:
    async with client() as http, expect_blocking(min_lag_ms=100, app=app) as lag:
        await http.get("/slow")
    assert lag.worst_stall is not None
    assert lag.worst_stall.route == "/slow"


async def test_expect_blocking_fails_when_not_blocked() -> None:
    with pytest.raises(AssertionError, match="expected the event loop to block"):
        async with client() as http, expect_blocking(min_lag_ms=100):
            await http.get("/fixed")


async def test_measure_lag_catches_a_block_right_at_entry() -> None:
    # No await between entry and the block: the first tick is anchored at entry.
    async with measure_lag() as lag:
        time.sleep(0.15)  # noqa: ASYNC251 (the block under test)
    assert 140 <= lag.max_ms <= 400
    assert lag.p99_ms >= 100
    assert lag.worst_stall is not None
    assert lag.worst_stall.blame is not None
    assert lag.worst_stall.blame.function == "test_measure_lag_catches_a_block_right_at_entry"


async def test_loop_monitor_fixture_reads_live(loop_monitor) -> None:  # type: ignore[no-untyped-def]
    time.sleep(0.1)  # noqa: ASYNC251 (the block under test)
    await _next_tick()
    assert loop_monitor.max_ms >= 80
    assert loop_monitor.worst_stall.blame.line == line_of(
        test_loop_monitor_fixture_reads_live, "time.sleep("
    )


async def _next_tick() -> None:
    import anyio

    await anyio.sleep(0.02)


@pytest.mark.server
async def test_assert_responsive_remote_mode() -> None:
    with ServerProcess("tests.looplab.sample_app:app") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            async with assert_responsive(max_lag_ms=100, url=server.url, window="fixed"):
                await http.get("/fixed")
            named = (await http.get("/monitor")).json()["windows"]["named"]
            async with assert_responsive(max_lag_ms=100, url=server.url) as lag:
                await http.get("/fixed")
            assert lag.samples > 10
            # A window of its own, dropped afterwards.
            assert (await http.get("/monitor")).json()["windows"]["named"] == named
            with pytest.raises(AssertionError) as failure:
                async with assert_responsive(max_lag_ms=100, url=server.url, window="slow"):
                    await http.get("/slow")
    message = str(failure.value)
    assert f":{SLEEP_LINE} in slow_route" in message
    assert "route /slow" in message
