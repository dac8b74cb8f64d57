"""An open-loop probe: ``GET /ping`` at a fixed rate, each latency timed from its intended send.

A closed-loop client (locust, wrk, a test loop) waits for each answer before it
asks again, so while a server stalls it simply stops asking, and the stall is
one slow sample among thousands: coordinated omission. This probe keeps its
schedule whatever happens: request *i* is due at ``start + i / rate``, and its
latency runs from that moment, not from when a free connection finally let it
go out. A one-second stall at 200 requests/s is then two hundred slow samples,
as it is for the users who arrive during it (wrk2's method).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from looplab.bench._histogram import LatencyHistogram
from looplab.bench._http import Connection, HttpError, Target, connect
from looplab.protocol import Percentiles, Trace

__all__ = ["ProbeResult", "probe"]

_TRACE_BUCKET_S = 0.05  # the trace keeps the worst latency of each 50 ms of the run


@dataclass
class ProbeResult:
    """What the probe saw. Latencies are in ms, from each request's intended send time."""

    url: str
    rate_hz: float
    duration_s: float
    sent: int = 0
    completed: int = 0
    errors: int = 0
    probe_ms: Percentiles = field(default_factory=lambda: Percentiles(p50=0, p90=0, p99=0, max=0))
    # The worst latency in each 50 ms bucket of the run: what a chart of the run plots.
    trace: Trace = field(default_factory=lambda: Trace(t_s=[], probe_ms=[]))


class _Pool:
    """The probe's own keep-alive connections, handed out first come, first served."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()

    async def open(self, size: int) -> None:
        for conn in await asyncio.gather(*(connect(self._target) for _ in range(size))):
            self._idle.put_nowait(conn)

    async def take(self) -> Connection:
        return await self._idle.get()

    async def give_back(self, conn: Connection) -> None:
        # A connection the server closed is replaced, so the pool never shrinks
        # and a later request never waits for a connection that cannot come.
        if not conn.usable:
            conn.close()
            conn = await self._reconnect()
        self._idle.put_nowait(conn)

    async def _reconnect(self) -> Connection:
        while True:
            try:
                return await connect(self._target)
            except OSError:
                await asyncio.sleep(0.05)

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().close()


async def probe(
    url: str,
    *,
    rate_hz: float = 200.0,
    duration_s: float = 5.0,
    start_at: float | None = None,
    connections: int = 16,
    timeout_s: float = 30.0,
) -> ProbeResult:
    """Probe ``url`` at ``rate_hz`` for ``duration_s``; ``start_at`` is a ``time.monotonic()``.

    Requests still unanswered ``timeout_s`` after the schedule ends are counted
    as errors and recorded with the latency they had reached, so a server that
    never answers cannot make the probe look good.
    """
    if rate_hz <= 0 or duration_s <= 0:
        raise ValueError("rate_hz and duration_s must be positive")
    target = Target.from_url(url)
    result = ProbeResult(url=url, rate_hz=rate_hz, duration_s=duration_s)
    hist = LatencyHistogram()
    samples: list[tuple[float, float]] = []
    pool = _Pool(target)
    await pool.open(connections)
    start = max(start_at or 0.0, time.monotonic())

    async def one_request(due: float) -> None:
        conn = await pool.take()
        try:
            response = await conn.get()
        except asyncio.CancelledError:
            conn.close()  # given up on at the end: its answer may still come, unread
            raise
        except (HttpError, OSError):
            result.errors += 1
            conn.close()
        else:
            if response.status >= 400:
                result.errors += 1
            else:
                latency = time.monotonic() - due
                hist.record(latency)
                samples.append((due - start, latency))
                result.completed += 1
        await pool.give_back(conn)

    tasks: dict[asyncio.Task[None], float] = {}
    total = max(1, round(rate_hz * duration_s))
    try:
        for i in range(total):
            due = start + i / rate_hz
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one_request(due))
            tasks[task] = due
            task.add_done_callback(lambda t: tasks.pop(t, None))
        result.sent = total
        if tasks:
            await asyncio.wait(list(tasks), timeout=timeout_s)
        # Whatever is still waiting counts as failed, at the latency it has reached.
        now = time.monotonic()
        for task, due in list(tasks.items()):
            task.cancel()
            result.errors += 1
            hist.record(now - due)
            samples.append((due - start, now - due))
        for task in list(tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        pool.close()
    result.probe_ms = Percentiles(**hist.summary(50, 90, 99))
    result.trace = _trace(samples)
    return result


def _trace(samples: list[tuple[float, float]]) -> Trace:
    worst: dict[int, float] = {}
    for offset, latency in samples:
        bucket = int(offset / _TRACE_BUCKET_S)
        worst[bucket] = max(worst.get(bucket, 0.0), latency)
    buckets = sorted(worst)
    return Trace(
        t_s=[round(b * _TRACE_BUCKET_S, 3) for b in buckets],
        probe_ms=[round(worst[b] * 1000, 3) for b in buckets],
    )
