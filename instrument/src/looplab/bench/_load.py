"""The load: N keep-alive connections calling one URL back to back for a fixed time.

Each connection is a closed loop (send, read the whole body, send again), which
is what N busy clients do. The run ends hard at its deadline: requests still in
flight are cut off, and the body bytes they had received still count toward
MB/s, so a run of a 256 MiB stream lasts the duration asked, not as long as the
slowest stream. What the cut-off leaves running on the server is the runner's
business (it waits for the server to drain before the next run).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from looplab.bench._histogram import LatencyHistogram
from looplab.bench._http import Connection, HttpError, Target, connect
from looplab.protocol import WorkPercentiles

__all__ = ["LoadResult", "load"]


@dataclass
class LoadResult:
    """Closed-loop figures of one run; ``work_ms`` is each request's own latency."""

    url: str
    concurrency: int
    duration_s: float
    requests: int = 0
    errors: int = 0
    body_bytes: int = 0
    work_ms: WorkPercentiles = field(default_factory=lambda: WorkPercentiles(p50=0, p99=0, max=0))

    @property
    def throughput_rps(self) -> float:
        return round(self.requests / self.duration_s, 2)

    @property
    def mb_per_s(self) -> float:
        return round(self.body_bytes / self.duration_s / 1e6, 2)


class _Client:
    """One closed-loop client on its own connection, reconnecting after a failure."""

    def __init__(self, target: Target, result: LoadResult, hist: LatencyHistogram) -> None:
        self._target = target
        self._result = result
        self._hist = hist
        self.conn: Connection | None = None

    async def run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                if self.conn is None or not self.conn.usable:
                    if self.conn is not None:
                        self.conn.close()
                    self.conn = await connect(self._target)
                sent = time.monotonic()
                response = await self.conn.get()
            except (HttpError, OSError, TimeoutError):
                self._result.errors += 1
                if self.conn is not None:
                    self._result.body_bytes += self.conn.body_so_far
                    self.conn.close()
                    self.conn = None
                await asyncio.sleep(0.01)  # a refused connect must not spin
                continue
            self._hist.record(time.monotonic() - sent)
            self._result.requests += 1
            self._result.body_bytes += response.body_bytes
            if response.status >= 400:
                self._result.errors += 1

    def cut_off(self) -> None:
        """Count what a request cut off at the deadline had received, and hang up."""
        if self.conn is not None:
            if self.conn.in_flight:
                self._result.body_bytes += self.conn.body_so_far
            self.conn.close()
            self.conn = None


async def load(
    url: str, *, concurrency: int, duration_s: float, start_at: float | None = None
) -> LoadResult:
    """Call ``url`` on ``concurrency`` connections for ``duration_s``; ``start_at`` is monotonic."""
    if concurrency < 1 or duration_s <= 0:
        raise ValueError("concurrency must be >= 1 and duration_s positive")
    target = Target.from_url(url)
    result = LoadResult(url=url, concurrency=concurrency, duration_s=duration_s)
    hist = LatencyHistogram()
    clients = [_Client(target, result, hist) for _ in range(concurrency)]
    # Connect before the clock starts: the run measures requests, not handshakes.
    conns = await asyncio.gather(*(connect(target) for _ in clients), return_exceptions=True)
    for client, conn in zip(clients, conns, strict=True):
        client.conn = conn if isinstance(conn, Connection) else None
    start = max(start_at or 0.0, time.monotonic())
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    deadline = start + duration_s
    tasks = [asyncio.create_task(client.run(deadline)) for client in clients]
    await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for client in clients:
        client.cut_off()
    result.work_ms = WorkPercentiles(**hist.summary(50, 99))
    return result
