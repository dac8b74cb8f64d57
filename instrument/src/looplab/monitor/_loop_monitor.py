"""The loop monitor: a ticker on the loop, a watchdog beside it, windows to read.

The ticker (:mod:`._ticker`) records how late it woke. When it wakes a stall
late, the watchdog's stack samples name the line, the request registry
(:mod:`._requests`) names the route and the requests that waited, and the
evidence read on every tick (:mod:`._evidence`) names the kind.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import CodeType
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from anyio import CapacityLimiter

from looplab._extras import requires
from looplab.monitor._evidence import EvidenceReader, Mark, classify, evidence_between
from looplab.monitor._frames import is_user_file, route_of, route_paths
from looplab.monitor._requests import (
    Scope,
    in_flight_on,
    route_of_request,
    served_by,
    waiting_of,
)
from looplab.monitor._stalls import build_stall
from looplab.monitor._threadpool import ThreadPoolReading, read_limiter
from looplab.monitor._ticker import Ticker, running_loop, start_ticker
from looplab.monitor._utilization import idle_mark, utilization_between
from looplab.monitor._watchdog import Sample, Watchdog
from looplab.monitor._window import CORRECTED_FIGURES, Window, corrected_indexes, warm_up
from looplab.protocol import (
    LoopFigures,
    MonitorSnapshot,
    StallFigures,
    ThreadPoolFigures,
    Waiting,
    WindowCounts,
)

if TYPE_CHECKING:
    from looplab.monitor._otel import OtelExporter
    from looplab.monitor._prometheus import PrometheusExporter

__all__ = ["DEFAULT_WINDOW", "SHUTDOWN", "STARTUP", "WINDOW_NAME", "LoopMonitor"]

DEFAULT_WINDOW = "default"
WINDOW_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# Named windows come from query strings: bound them, forgetting the least recently read.
_MAX_NAMED_WINDOWS = 32
# Gauges in multiprocess mode are only seen if written: refresh them this often.
_GAUGE_PERIOD_S = 1.0
# The route of a stall in the app's lifespan, where no request is served.
STARTUP = "(startup)"
SHUTDOWN = "(shutdown)"


def _otel_exporter(meter_provider: Any, loop: str) -> OtelExporter:
    with requires("otel", "OpenTelemetry export"):
        from looplab.monitor._otel import OtelExporter

        return OtelExporter(meter_provider, loop=loop)


def _exporter() -> PrometheusExporter:
    with requires("prometheus", "Prometheus export (/metrics)"):
        from looplab.monitor._prometheus import PrometheusExporter

        return PrometheusExporter()


class LoopMonitor:
    """Measures one event loop: lag, stalls with blame, thread pool and utilization.

    ``start()`` on the loop (a lifespan, a test) and ``stop()`` on the same loop.
    ``app`` (any Starlette/FastAPI app) lets a stall name the route being served;
    ``is_user_frame`` decides which files a stall may blame.
    """

    def __init__(
        self,
        *,
        interval_ms: float = 5.0,
        stall_threshold_ms: float = 50.0,
        app: Any = None,
        is_user_frame: Callable[[str], bool] = is_user_file,
        prometheus: bool = False,
        otel: bool = False,
        meter_provider: Any = None,
    ) -> None:
        if interval_ms <= 0 or stall_threshold_ms <= 0:
            raise ValueError("interval_ms and stall_threshold_ms must be positive")
        self.interval_s = interval_ms / 1e3
        self.stall_threshold_s = stall_threshold_ms / 1e3
        self._interval_us = max(1, round(interval_ms * 1e3))
        self._app = app
        self._is_user_frame = is_user_frame
        self.exporter: PrometheusExporter | None = _exporter() if prometheus else None
        # OpenTelemetry is opt-in: FastAPI installs opentelemetry-api, so "installed" is no sign.
        self._otel_wanted = otel or meter_provider is not None
        self._meter_provider = meter_provider
        self._otel: OtelExporter | None = None
        warm_up()  # here, not in the first snapshot served from the loop
        self._named: OrderedDict[str, Window] = OrderedDict({DEFAULT_WINDOW: Window()})
        self._anonymous: set[Window] = set()
        self._windows: list[Window] = []
        self._refresh_windows()
        self._routes: dict[CodeType, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._backend: str | None = None
        self._thread_id = 0
        self._limiter: CapacityLimiter | None = None
        self._watchdog: Watchdog | None = None
        self._ticker: Ticker | None = None
        self._evidence: EvidenceReader | None = None
        self._last_mark: Mark | None = None
        self._due = 0.0
        # Set by the app's lifespan: the route of a stall no request was being served in.
        self.phase: str | None = None
        self._next_gauges = 0.0
        self._gauge_mark: tuple[float, float] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._ticker is not None

    def start(self) -> None:
        """Start ticking on the running loop; the first tick is due one interval from now.

        Runs on asyncio (uvloop included) or trio, from the loop's own thread.
        """
        if self.running:
            raise RuntimeError("the monitor is already running")
        loop = running_loop()
        self._loop = loop
        self._backend = "trio" if loop is None else type(loop).__module__.split(".")[0]
        self._thread_id = threading.get_ident()
        self._limiter = anyio.to_thread.current_default_thread_limiter()
        self._routes = route_paths(self._app) if self._app is not None else {}
        mark = self._mark()
        for window in self._windows:
            window.reset(mark)
        self._gauge_mark = mark
        self._evidence = EvidenceReader()
        # Every wake of the watchdog thread costs the loop: under load, a thread waiting
        # for the GIL is woken by each of the loop's syscalls until it wins it (~6 us per
        # /ping at ~21 wakes/s, in process, side by side with the watchdog off). So it
        # sleeps until the loop is a full threshold overdue, then samples every quarter threshold:
        # a stall within a few ms of the threshold may carry no stack.
        period = min(max(self.stall_threshold_s / 4, 0.001), 0.025)
        sample_after = min(max(self.stall_threshold_s, 0.001), 0.1)
        probe = (lambda: None) if loop is None else (lambda: (served_by(loop), in_flight_on(loop)))
        self._watchdog = Watchdog(self._thread_id, period, sample_after, probe=probe)
        # Anchored now: a block that begins right after start() still makes this tick late.
        self._due = time.perf_counter() + self.interval_s
        self._last_mark = self._evidence.mark()
        self._watchdog.beat(self._due)
        self._watchdog.start()
        if self._otel_wanted:
            name = f"{self._backend}:{threading.current_thread().name}"
            self._otel = _otel_exporter(self._meter_provider, name)
            self._otel.watch(self._otel_gauges())
        self._ticker = start_ticker(loop, self._tick)
        self._ticker.schedule(self.interval_s)

    def stop(self) -> None:
        """Stop ticking; a stall still in progress is recorded first."""
        if self._ticker is None:
            return
        self._ticker.cancel()
        self._ticker = None
        now = time.perf_counter()
        if now > self._due:
            # The loop is late for a tick that will not come: that lateness counts too.
            self._record(now)
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if self._evidence is not None:
            self._evidence.close()
            self._evidence = None
        if self._otel is not None:
            self._otel.close()
            self._otel = None

    def _otel_gauges(self) -> Callable[[], tuple[ThreadPoolReading, float | None]]:
        # Read by the SDK's collection thread, once per gauge: the busy fraction moves on
        # at most once a second, so the four reads of one collection agree.
        last: list[Any] = [self._mark(), None]

        def read() -> tuple[ThreadPoolReading, float | None]:
            mark = self._mark()
            if mark is not None and last[0] is not None and mark[0] - last[0][0] >= 1.0:
                last[1] = utilization_between(last[0], mark)
                last[0] = mark
            return self.threadpool(), last[1]

        return read

    # -- the ticker ----------------------------------------------------------------------------

    def _tick(self) -> None:
        now = self._record(time.perf_counter())
        if self._ticker is not None:
            self._ticker.schedule(self.interval_s)
        if self.exporter is not None and now >= self._next_gauges:
            self._next_gauges = now + _GAUGE_PERIOD_S
            self._update_gauges()

    def catch_up(self) -> None:
        """Tick now if a tick is overdue: a read right after a block includes that block.

        Only on the loop's own thread, where the pending tick cannot run meanwhile.
        """
        if self._ticker is None or threading.get_ident() != self._thread_id:
            return
        if time.perf_counter() > self._due:
            self._tick()

    # Two hooks for benchmarks/monitor_overhead.py, which measures the monitor's own cost.
    def _bench_record_tick(self) -> None:
        # Record a tick now, as the ticker does.
        self._record(time.perf_counter())

    def _bench_watchdog_native_id(self) -> int:
        # The native id of the watchdog thread, for reading its CPU time.
        if self._watchdog is None:
            raise RuntimeError("the monitor is not running")
        return self._watchdog.native_id

    def _record(self, now: float) -> float:
        lag = max(0.0, now - self._due)
        lag_us = round(lag * 1e6)
        indexes = corrected_indexes(lag_us, self._interval_us)
        for window in self._windows:
            window.record_indexes(lag_us, indexes)
        if self.exporter is not None:
            self.exporter.observe_lag(lag, self.interval_s)
        if self._otel is not None:
            self._otel.observe_lag(lag, self.interval_s)
        if self._evidence is not None:
            mark = self._evidence.mark()
            if lag >= self.stall_threshold_s:
                self._record_stall(lag, mark)
            self._last_mark = mark
        if self._limiter is not None:
            borrowed = self._limiter.borrowed_tokens
            for window in self._windows:
                if borrowed > window.peak_borrowed:
                    window.peak_borrowed = borrowed
        self._due = now + self.interval_s
        if self._watchdog is not None:
            self._watchdog.beat(self._due)
        return now

    def _record_stall(self, lag: float, end: Mark) -> None:
        samples, watchdog_late = self._watchdog.take() if self._watchdog else ([], 0.0)
        assert self._last_mark is not None
        evidence = evidence_between(self._last_mark, end, watchdog_late)
        kind, kind_reason = classify(evidence, lag * 1e3)
        route, template, waiting = self._requests_of(samples)
        stall = build_stall(
            datetime.now(UTC) - timedelta(seconds=lag),
            lag,
            [sample.stack for sample in samples],
            self._is_user_frame,
            route=route,
            kind=kind,
            kind_reason=kind_reason,
            waiting=waiting,
            evidence=evidence,
        )
        for window in self._windows:
            window.add_stall(stall)
        if self.exporter is not None:
            self.exporter.observe_stall(lag, kind)
        if self._otel is not None:
            # Labels carry route templates only, never raw paths: bounded cardinality.
            self._otel.observe_stall(lag, kind, template)

    def _requests_of(self, samples: list[Sample]) -> tuple[str | None, str | None, Waiting]:
        """(route, route as a label, waiting requests) for a stall's samples."""
        blocked: Scope | None = None
        in_flight: tuple[Scope, ...] = ()
        for sample in samples:
            if sample.context is not None:
                served, in_flight = sample.context
                if served is not None:
                    blocked = served
                    break
        if not samples and self._loop is not None:
            # No sample: the blocked request cannot be told apart, so it is counted too.
            in_flight = in_flight_on(self._loop)
        waiting = waiting_of(in_flight, blocked, self._routes)
        if blocked is not None:
            route, is_template = route_of_request(blocked, self._routes)
            return route, route if is_template else None, waiting
        for sample in samples:
            # No middleware (an app under httpx's ASGITransport): the endpoint on the stack.
            found = route_of(sample.stack, self._routes)
            if found is not None:
                return found, found, waiting
        return self.phase, self.phase, waiting

    def _update_gauges(self) -> None:
        assert self.exporter is not None
        mark = None if self._loop is None else idle_mark(self._loop)
        utilization = utilization_between(self._gauge_mark, mark)
        self._gauge_mark = mark
        self.exporter.set_gauges(self.threadpool(), utilization)

    # -- windows -------------------------------------------------------------------------------

    def _refresh_windows(self) -> None:
        # The ticker walks a plain list: cheaper than two containers on every tick.
        self._windows = [*self._named.values(), *self._anonymous]

    def _mark(self) -> tuple[float, float] | None:
        # Only a loop from new_event_loop() can be timed: never trio, never uvloop.
        return None if self._loop is None else idle_mark(self._loop)

    def window(self, name: str = DEFAULT_WINDOW) -> Window:
        """The named window, created on first use (names match ``WINDOW_NAME``)."""
        if not WINDOW_NAME.match(name):
            raise ValueError(f"invalid window name {name!r}: use 1-64 of A-Z a-z 0-9 _ . : -")
        window = self._named.get(name)
        if window is None:
            window = self._named[name] = Window(self._mark())
            while len(self._named) > _MAX_NAMED_WINDOWS:
                oldest = next(key for key in self._named if key != DEFAULT_WINDOW)
                del self._named[oldest]
            self._refresh_windows()
        self._named.move_to_end(name)
        return window

    def drop_window(self, name: str) -> bool:
        """Forget a named window (not the default one); False if there was none."""
        if name == DEFAULT_WINDOW:
            raise ValueError("the default window cannot be dropped")
        dropped = self._named.pop(name, None) is not None
        self._refresh_windows()
        return dropped

    def reset(self, window: Window) -> None:
        window.reset(self._mark())

    def reset_windows(self) -> None:
        """Start every window afresh (an app's warm-up is done); cumulative metrics stay.

        A tick that is overdue is taken first, so the warm-up's own stall stays out.
        """
        self.catch_up()
        mark = self._mark()
        for window in self._windows:
            window.reset(mark)

    def open_window(self) -> Window:
        """A private window (one per SSE connection); close it with :meth:`close_window`."""
        window = Window(self._mark())
        self._anonymous.add(window)
        self._refresh_windows()
        return window

    def close_window(self, window: Window) -> None:
        self._anonymous.discard(window)
        self._refresh_windows()

    # -- readings ------------------------------------------------------------------------------

    @property
    def backend(self) -> str | None:
        """``asyncio``, ``uvloop``, ``trio``... once started."""
        return self._backend

    def threadpool(self) -> ThreadPoolReading:
        if self._limiter is None:
            return ThreadPoolReading(total_tokens=0, borrowed=0, waiting=0)
        return read_limiter(self._limiter)

    def snapshot(self, window: Window, name: str | None = None) -> MonitorSnapshot:
        """The document served at ``/monitor`` for ``window``.

        A tick that is overdue is taken first, so a block that has just ended counts.
        """
        self.catch_up()
        pool = self.threadpool()
        window.peak_borrowed = max(window.peak_borrowed, pool.borrowed)
        return MonitorSnapshot(
            window=name,
            since=window.since.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            windows=WindowCounts(named=len(self._named), streams=len(self._anonymous)),
            loop=LoopFigures(
                backend=self.backend,
                running=self.running,
                interval_ms=self.interval_s * 1e3,
                samples=window.samples,
                lag_ms=window.lag_ms(),
                corrected=list(CORRECTED_FIGURES),
                utilization=utilization_between(window.utilization_mark, self._mark()),
            ),
            threadpool=ThreadPoolFigures(
                total_tokens=pool.total_tokens,
                borrowed=pool.borrowed,
                waiting=pool.waiting,
                peak_borrowed=window.peak_borrowed,
            ),
            stalls=StallFigures(
                threshold_ms=self.stall_threshold_s * 1e3,
                count=window.stall_count,
                total_ms=round(window.stall_total_ms, 3),
                recent=list(window.recent),
                top=window.top(),
            ),
        )

    def refresh_gauges(self) -> None:
        """Write this worker's thread-pool and utilization gauges now (before a scrape)."""
        if self.exporter is not None:
            self._update_gauges()
