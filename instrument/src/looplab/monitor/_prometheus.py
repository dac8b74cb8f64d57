"""Prometheus exposition of the monitor, including prometheus-client's multiprocess mode.

Scraping never resets anything: the metrics are cumulative, apart from the windows.
With several worker processes (``looplab serve --workers 2``) set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before the workers start:
each worker then writes its metrics to files there, histograms and counters sum
over the workers on scrape, and gauges carry the worker's ``pid`` label.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from looplab.monitor._threadpool import ThreadPoolReading

__all__ = [
    "CONTENT_TYPE_LATEST",
    "LAG_BUCKETS",
    "MULTIPROC_ENV",
    "PrometheusExporter",
    "multiprocess_enabled",
    "prepare_multiprocess_dir",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Fine enough below a millisecond, where a healthy loop lives, and up to a 10 s stall.
LAG_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05,
    0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def prepare_multiprocess_dir(path: Path) -> None:
    """Empty (or create) the directory the workers share; call it before they start."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


class PrometheusExporter:
    """The monitor's metrics, in a registry of their own (or the shared multiprocess files)."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess_enabled()
        # In multiprocess mode the values live in files, and the scrape reads every worker's.
        registry = None if self.multiprocess else CollectorRegistry()
        self._registry = registry
        self.lag = Histogram(
            "looplab_event_loop_lag_seconds",
            "How late the loop ticker woke, corrected for coordinated omission.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.stalls = Counter(
            "looplab_event_loop_stalls",
            "Stalls longer than the stall threshold.",
            registry=registry,
        )
        self.stall_seconds = Counter(
            "looplab_event_loop_stall_seconds",
            "Seconds the loop spent in stalls.",
            registry=registry,
        )
        self.tokens_total = self._gauge(
            "looplab_threadpool_tokens_total", "Tokens of AnyIO's default thread limiter."
        )
        self.tokens_borrowed = self._gauge(
            "looplab_threadpool_tokens_borrowed", "Threads of the default limiter in use."
        )
        self.tasks_waiting = self._gauge(
            "looplab_threadpool_tasks_waiting", "Tasks waiting for a thread-limiter token."
        )
        self.utilization = self._gauge(
            "looplab_event_loop_utilization", "Busy fraction of the loop since the last update."
        )

    def _gauge(self, name: str, documentation: str) -> Gauge:
        return Gauge(name, documentation, registry=self._registry, multiprocess_mode="all")

    def observe_lag(self, lag_s: float, interval_s: float) -> None:
        # The same back-fill as HdrHistogram's record_corrected_value.
        observe = self.lag.observe
        observe(lag_s)
        missing = lag_s - interval_s
        while missing >= interval_s:
            observe(missing)
            missing -= interval_s

    def observe_stall(self, duration_s: float) -> None:
        self.stalls.inc()
        self.stall_seconds.inc(duration_s)

    def set_gauges(self, pool: ThreadPoolReading, utilization: float | None) -> None:
        self.tokens_total.set(pool.total_tokens)
        self.tokens_borrowed.set(pool.borrowed)
        self.tasks_waiting.set(pool.waiting)
        # NaN, not a stale or made-up number, where the loop cannot be timed (uvloop).
        self.utilization.set(math.nan if utilization is None else utilization)

    content_type = CONTENT_TYPE_LATEST

    def render(self) -> bytes:
        """The text exposition of every worker's metrics (or this process's)."""
        if self._registry is not None:
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
