"""Assertions about event-loop responsiveness, for anyone's tests.

In-process (:func:`measure_lag`, :func:`assert_responsive`, :func:`expect_blocking`)
the helpers start their own ticker and watchdog for the duration of the block:
no app lifespan is needed, so they work with ``httpx.ASGITransport``, which sends
no lifespan events. With ``url=...``, :func:`assert_responsive` reads a named
``/monitor`` window of a running server instead.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread

from looplab import _expected as expected
from looplab.monitor._frames import is_user_file
from looplab.monitor._loop_monitor import LoopMonitor
from looplab.monitor._window import Window
from looplab.protocol import MonitorSnapshot, Stall

__all__ = ["LagMeasurement", "assert_responsive", "expect_blocking", "measure_lag"]


class LagMeasurement:
    """Loop lag over a block: live while the block runs, final after it.

    ``max_ms`` is the raw worst tick; ``p50_ms`` and ``p99_ms`` are corrected for
    coordinated omission; ``stalls`` are the recent stalls, ``worst_stall`` the longest.
    """

    def __init__(self, read: Callable[[], MonitorSnapshot]) -> None:
        self._read = read
        self._final: MonitorSnapshot | None = None

    @property
    def snapshot(self) -> MonitorSnapshot:
        """The ``/monitor`` document of this measurement."""
        return self._final if self._final is not None else self._read()

    def freeze(self) -> None:
        self._final = self._read()

    @property
    def max_ms(self) -> float:
        return self.snapshot.loop.lag_ms.max

    @property
    def p99_ms(self) -> float:
        return self.snapshot.loop.lag_ms.p99

    @property
    def p50_ms(self) -> float:
        return self.snapshot.loop.lag_ms.p50

    @property
    def samples(self) -> int:
        return self.snapshot.loop.samples

    @property
    def stalls(self) -> list[Stall]:
        return self.snapshot.stalls.recent

    @property
    def worst_stall(self) -> Stall | None:
        return max(self.stalls, key=lambda stall: stall.duration_ms, default=None)

    def describe(self) -> str:
        """A summary naming the worst stall, as the failure messages print it."""
        worst = self.worst_stall
        summary = (
            f"loop lag max {self.max_ms:.1f} ms, p99 {self.p99_ms:.1f} ms "
            f"over {self.samples} ticks; {len(self.stalls)} stall(s)"
        )
        return summary if worst is None else f"{summary}; worst:\n  {worst.describe()}"


@asynccontextmanager
async def measure_lag(
    interval_ms: float = 5.0,
    stall_threshold_ms: float = 50.0,
    *,
    app: Any = None,
    is_user_frame: Callable[[str], bool] = is_user_file,
) -> AsyncIterator[LagMeasurement]:
    """Measure this event loop's lag over the block (anchored at entry).

    Pass the ASGI ``app`` under test to have stalls name the route they happened in.
    """
    monitor = LoopMonitor(
        interval_ms=interval_ms,
        stall_threshold_ms=stall_threshold_ms,
        app=app,
        is_user_frame=is_user_frame,
    )
    window: Window = monitor.window()
    measurement = LagMeasurement(lambda: monitor.snapshot(window))
    monitor.start()
    try:
        yield measurement
    finally:
        monitor.stop()
        measurement.freeze()


def _monitor_request(url: str, method: str = "GET") -> MonitorSnapshot | None:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as answer:
        body = answer.read()
    return MonitorSnapshot.model_validate_json(body) if method == "GET" else None


@asynccontextmanager
async def _measure_remote(url: str, window: str, drop: bool) -> AsyncIterator[LagMeasurement]:
    endpoint = url.rstrip("/") + "/monitor?" + urllib.parse.urlencode({"window": window})

    async def read(reset: bool = False) -> MonitorSnapshot:
        # A blocking client, in a worker thread: the test's loop stays free for its own work.
        snapshot = await anyio.to_thread.run_sync(
            _monitor_request, endpoint + ("&reset=true" if reset else "")
        )
        assert snapshot is not None
        return snapshot

    # Start the window afresh; other consumers' windows are untouched.
    last = [await read(reset=True)]
    measurement = LagMeasurement(lambda: last[-1])
    try:
        yield measurement
        last.append(await read())
        measurement.freeze()
    finally:
        if drop:
            # A window of our own: every window costs the server's ticker a little.
            await anyio.to_thread.run_sync(_monitor_request, endpoint, "DELETE")


def _measure(
    url: str | None, window: str | None, interval_ms: float, stall_threshold_ms: float, app: Any
) -> Any:
    if url is None:
        return measure_lag(interval_ms, stall_threshold_ms, app=app)
    if window is None:
        return _measure_remote(url, f"assert-responsive-{uuid.uuid4().hex[:12]}", drop=True)
    return _measure_remote(url, window, drop=False)


@asynccontextmanager
async def assert_responsive(
    max_lag_ms: float | None = None,
    p99_ms: float | None = None,
    *,
    url: str | None = None,
    window: str | None = None,
    interval_ms: float = 5.0,
    stall_threshold_ms: float = 50.0,
    app: Any = None,
) -> AsyncIterator[LagMeasurement]:
    """Fail (``AssertionError``) if the loop lagged more than allowed during the block.

    With neither limit given, ``max_lag_ms`` is the stall threshold. With ``url``,
    the figures come from the server's ``/monitor`` window ``window`` (reset on entry).
    """
    if max_lag_ms is None and p99_ms is None:
        max_lag_ms = stall_threshold_ms
    async with _measure(url, window, interval_ms, stall_threshold_ms, app) as measurement:
        yield measurement
    problems = []
    if max_lag_ms is not None and measurement.max_ms > max_lag_ms:
        problems.append(f"max lag {measurement.max_ms:.1f} ms > {max_lag_ms:g} ms")
    if p99_ms is not None and measurement.p99_ms > p99_ms:
        problems.append(f"p99 lag {measurement.p99_ms:.1f} ms > {p99_ms:g} ms")
    if problems:
        raise AssertionError(
            f"event loop was not responsive: {'; '.join(problems)}\n{measurement.describe()}"
        )


@asynccontextmanager
async def expect_blocking(
    min_lag_ms: float = 50.0,
    *,
    interval_ms: float = 5.0,
    stall_threshold_ms: float | None = None,
    app: Any = None,
) -> AsyncIterator[LagMeasurement]:
    """Fail (``AssertionError``) unless the block held the loop for ``min_lag_ms`` at least.

    For demonstrating anti-patterns: the blocking version of the code must block.
    """
    threshold = min_lag_ms if stall_threshold_ms is None else stall_threshold_ms
    started = expected.now()
    async with measure_lag(interval_ms, threshold, app=app) as measurement:
        yield measurement
    # Meant to block: the suite gate (--looplab-max-lag-ms) does not judge this stretch.
    expected.note_expected_block(started, expected.now())
    if measurement.max_ms < min_lag_ms:
        raise AssertionError(
            f"expected the event loop to block for {min_lag_ms:g} ms or more, "
            f"but the worst lag was {measurement.max_ms:.1f} ms"
        )
