"""The monitor's figures as OpenTelemetry instruments (the ``otel`` extra).

Python has no semantic convention for event loops. Node's (``nodejs.eventloop.delay.*``,
``nodejs.eventloop.utilization``) is the model, and OTel's naming rules apply: base
units, no ``_total``, plural names only for counts of things, ``limit`` and ``usage``
for a pool and its use.

=======================================  =======================  ===========  =================
Name                                     Instrument               Unit         Attributes
=======================================  =======================  ===========  =================
``python.eventloop.lag``                 Histogram                ``s``        loop
``python.eventloop.stalls``              Counter                  ``{stall}``  loop, kind, route
``python.eventloop.stall.time``          Counter                  ``s``        loop, kind, route
``python.eventloop.utilization``         ObservableGauge          ``1``        loop
``python.eventloop.threadpool.limit``    ObservableUpDownCounter  ``{token}``  loop
``python.eventloop.threadpool.usage``    ObservableUpDownCounter  ``{token}``  loop
``python.eventloop.threadpool.waiting``  ObservableUpDownCounter  ``{task}``   loop
=======================================  =======================  ===========  =================

Attributes: ``python.eventloop.name`` (loop) is the name the monitor gives its loop;
``python.eventloop.stall.kind`` (kind) is one of ``cpu``, ``wait``, ``gc``, ``gil``,
``starved``, ``unknown``; ``http.route`` (route) is the route template, as FastAPI's own
telemetry sets it, and is absent for a stall outside any request.

- The lag histogram is corrected for coordinated omission, as ``/metrics`` is, and has
  explicit bucket boundaries in seconds (the API's advisory, hence ``opentelemetry-api``
  1.31: 1.30 added the advisory, 1.31 made OTLP exporters honour it).
- The instruments are process-wide: every exporter on one meter provider shares them
  (meter ``looplab``), and each loop is a value of ``python.eventloop.name``.
- Utilization and the thread-pool figures are observable: they are read when a reader
  collects, so the loop pays nothing for them, and a closed loop simply stops being
  reported. (A synchronous gauge would need writes from the loop, would keep exporting
  a stopped loop's last value forever, and is still private in the Python API.)
  Tokens and waiting tasks add up over loops, so they are UpDownCounters; utilization
  does not, so it is a gauge.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Final, get_args

from looplab import __version__
from looplab._extras import requires
from looplab.monitor._buckets import LAG_BUCKETS
from looplab.monitor._threadpool import ThreadPoolReading
from looplab.protocol import StallKind

MIN_API_VERSION: Final = (1, 31)


def _check_api_version() -> None:
    # An older API imports fine, then rejects the histogram's advisory (before 1.30) or has
    # OTLP exporters ignore it (1.30: default buckets, 0 to 10000 "s"): say so here.
    try:
        found = version("opentelemetry-api")
    except PackageNotFoundError:  # vendored, or installed without metadata: trust it
        return
    try:
        major, minor = (int(part) for part in found.split(".")[:2])
    except ValueError:
        return
    if (major, minor) < MIN_API_VERSION:
        wanted = ".".join(map(str, MIN_API_VERSION))
        raise ImportError(f"opentelemetry-api>={wanted}, found {found}")


with requires("otel", "OpenTelemetry export"):
    from opentelemetry import metrics
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

    _check_api_version()

__all__ = [
    "HTTP_ROUTE",
    "LAG",
    "LAG_BUCKETS",
    "LOOP_NAME",
    "METER_NAME",
    "STALLS",
    "STALL_KIND",
    "STALL_KINDS",
    "STALL_TIME",
    "THREADPOOL_LIMIT",
    "THREADPOOL_USAGE",
    "THREADPOOL_WAITING",
    "UTILIZATION",
    "OtelExporter",
    "Reading",
]

METER_NAME: Final = "looplab"

LAG: Final = "python.eventloop.lag"
STALLS: Final = "python.eventloop.stalls"
STALL_TIME: Final = "python.eventloop.stall.time"
UTILIZATION: Final = "python.eventloop.utilization"
THREADPOOL_LIMIT: Final = "python.eventloop.threadpool.limit"
THREADPOOL_USAGE: Final = "python.eventloop.threadpool.usage"
THREADPOOL_WAITING: Final = "python.eventloop.threadpool.waiting"

LOOP_NAME: Final = "python.eventloop.name"
STALL_KIND: Final = "python.eventloop.stall.kind"
HTTP_ROUTE: Final = "http.route"

STALL_KINDS: Final[frozenset[str]] = frozenset(get_args(StallKind))


_logger = logging.getLogger(__name__)

Reading = tuple[ThreadPoolReading, float | None]


@dataclass(frozen=True, slots=True)
class _Source:
    owner: OtelExporter
    read: Callable[[], Reading]
    attributes: dict[str, str]


class _Instruments:
    """One meter provider's instruments, shared by the exporters of every loop."""

    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter(METER_NAME, __version__)
        self.lock = threading.Lock()
        self.sources: dict[str, _Source] = {}
        self.lag = meter.create_histogram(
            LAG,
            unit="s",
            description="How late the loop ticker woke, corrected for coordinated omission.",
            explicit_bucket_boundaries_advisory=LAG_BUCKETS,
        )
        self.stalls = meter.create_counter(
            STALLS, unit="{stall}", description="Stalls longer than the stall threshold."
        )
        self.stall_time = meter.create_counter(
            STALL_TIME, unit="s", description="Seconds the loop spent in stalls."
        )
        meter.create_observable_gauge(
            UTILIZATION,
            [self._observer(lambda pool, utilization: utilization)],
            unit="1",
            description="Busy fraction of the loop (asyncio loops made by looplab only).",
        )
        meter.create_observable_up_down_counter(
            THREADPOOL_LIMIT,
            [self._observer(lambda pool, utilization: pool.total_tokens)],
            unit="{token}",
            description="Tokens of AnyIO's default thread limiter.",
        )
        meter.create_observable_up_down_counter(
            THREADPOOL_USAGE,
            [self._observer(lambda pool, utilization: pool.borrowed)],
            unit="{token}",
            description="Tokens of the default thread limiter in use.",
        )
        meter.create_observable_up_down_counter(
            THREADPOOL_WAITING,
            [self._observer(lambda pool, utilization: pool.waiting)],
            unit="{task}",
            description="Tasks waiting for a token of the default thread limiter.",
        )

    def _observer(
        self, pick: Callable[[ThreadPoolReading, float | None], float | None]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            with self.lock:
                sources = tuple(self.sources.values())
            observations: list[Observation] = []
            for source in sources:
                try:
                    value = pick(*source.read())
                except Exception:
                    # One loop's failure must not hide the others (the SDK would drop them all).
                    _logger.exception(
                        "looplab: reading loop %r for OpenTelemetry failed", source.owner.loop
                    )
                    continue
                if value is not None:
                    observations.append(Observation(value, source.attributes))
            return observations

        return observe


# Weak keys: a meter provider made for a test and dropped takes its instruments with it.
_INSTRUMENTS: weakref.WeakKeyDictionary[MeterProvider, _Instruments] = weakref.WeakKeyDictionary()
_INSTRUMENTS_LOCK = threading.Lock()


def _instruments_for(provider: MeterProvider) -> _Instruments:
    with _INSTRUMENTS_LOCK:
        instruments = _INSTRUMENTS.get(provider)
        if instruments is None:
            instruments = _INSTRUMENTS[provider] = _Instruments(provider)
        return instruments


class OtelExporter:
    """One loop's figures, as OpenTelemetry instruments shared by every loop.

    ``meter_provider`` defaults to the global one as it is now (OTel's proxy, if none is
    set yet, forwards to the one set later). ``loop`` is the value of
    ``python.eventloop.name``: unique among the loops watched at one time.
    """

    def __init__(self, meter_provider: MeterProvider | None = None, *, loop: str) -> None:
        if not loop:
            raise ValueError("loop must be a non-empty name")
        provider = metrics.get_meter_provider() if meter_provider is None else meter_provider
        self.loop = loop
        self._instruments = _instruments_for(provider)
        # Built once: observe_lag passes this same mapping on every tick.
        self._attributes = {LOOP_NAME: loop}
        self._record_lag = self._instruments.lag.record

    def __repr__(self) -> str:
        return f"OtelExporter(loop={self.loop!r})"

    def observe_lag(self, lag_s: float, interval_s: float) -> None:
        """Record one tick's lag, back-filling the ticks a stall swallowed.

        The same back-fill as ``PrometheusExporter.observe_lag`` and HdrHistogram's
        ``record_corrected_value``. Runs on the loop on every tick: keep it lean.
        """
        record = self._record_lag
        attributes = self._attributes
        if lag_s < 0.0:  # the SDK drops a negative value with a warning in the log
            lag_s = 0.0
        record(lag_s, attributes)
        missing = lag_s - interval_s
        while missing >= interval_s:
            record(missing, attributes)
            missing -= interval_s

    def observe_stall(self, duration_s: float, kind: StallKind, route: str | None) -> None:
        """Count one stall by kind and route template (never a raw path: cardinality)."""
        if kind not in STALL_KINDS:
            raise ValueError(f"unknown stall kind {kind!r}, expected one of {sorted(STALL_KINDS)}")
        # A stall is rare next to a tick: a fresh mapping each time costs nothing that matters.
        attributes = {LOOP_NAME: self.loop, STALL_KIND: kind}
        if route is not None:
            attributes[HTTP_ROUTE] = route
        self._instruments.stalls.add(1, attributes)
        self._instruments.stall_time.add(duration_s, attributes)

    def watch(self, read: Callable[[], Reading]) -> None:
        """Report this loop's thread pool and utilization from ``read`` until :meth:`close`.

        ``read`` returns (thread pool, utilization or ``None`` where the loop cannot be
        timed). It runs on the thread that collects (a periodic reader's own thread, for
        one), not on the loop, once per observable instrument per collection: make it
        cheap, thread-safe and free of side effects, for instance by returning figures the
        loop computed last. Calling it again replaces ``read``.
        """
        instruments = self._instruments
        with instruments.lock:
            current = instruments.sources.get(self.loop)
            if current is not None and current.owner is not self:
                raise ValueError(
                    f"loop {self.loop!r} is already watched by another exporter; close that one"
                    " first, or give this loop another name"
                )
            instruments.sources[self.loop] = _Source(self, read, self._attributes)

    def close(self) -> None:
        """Stop reporting this loop's gauges; the lag and stall totals stay, being cumulative."""
        instruments = self._instruments
        with instruments.lock:
            current = instruments.sources.get(self.loop)
            if current is not None and current.owner is self:
                del instruments.sources[self.loop]
