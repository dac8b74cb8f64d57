"""Prometheus exposition of the monitor, including prometheus-client's multiprocess mode.

Scraping never resets anything: the metrics are cumulative, apart from the windows.
The names follow Prometheus' conventions (base units, ``_total`` on counters only,
``_seconds``, ``_ratio``), so ``promtool check metrics`` passes them. A scrape that
accepts ``application/openmetrics-text`` gets OpenMetrics.

With several worker processes (``looplab serve --workers 2``) set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before the workers start:
each worker then writes its metrics to files there, histograms and counters sum
over the workers on scrape, and gauges carry the worker's ``pid`` label. Gauges
are "live": a scrape first drops the gauge files of workers that no longer run
(uvicorn and gunicorn restart a dead worker without telling its metrics).
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path
from typing import get_args

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.openmetrics import exposition as openmetrics

from looplab.monitor._buckets import LAG_BUCKETS
from looplab.monitor._threadpool import ThreadPoolReading
from looplab.protocol import StallKind

__all__ = [
    "CONTENT_TYPE_LATEST",
    "LAG_BUCKETS",
    "MULTIPROC_ENV",
    "OPENMETRICS_CONTENT_TYPE",
    "PrometheusExporter",
    "multiprocess_enabled",
    "prepare_multiprocess_dir",
    "prune_dead_workers",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OPENMETRICS_CONTENT_TYPE = openmetrics.CONTENT_TYPE_LATEST
# prometheus-client names a live gauge's file gauge_live<mode>_<pid>.db.
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w+_(\d+)\.db$")


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
            "Stalls longer than the stall threshold, by kind (cpu wait gc gil starved unknown).",
            ["kind"],
            registry=registry,
        )
        self.stall_seconds = Counter(
            "looplab_event_loop_stall_seconds",
            "Seconds the loop spent in stalls, by kind.",
            ["kind"],
            registry=registry,
        )
        for kind in get_args(StallKind):
            # Every kind's series exists from the start: a rate() over a missing one is empty.
            self.stalls.labels(kind)
            self.stall_seconds.labels(kind)
        self.capacity_tokens = self._gauge(
            "looplab_threadpool_capacity_tokens", "Tokens of AnyIO's default thread limiter."
        )
        self.borrowed_tokens = self._gauge(
            "looplab_threadpool_borrowed_tokens", "Tokens of the default limiter in use."
        )
        self.waiting_tasks = self._gauge(
            "looplab_threadpool_waiting_tasks", "Tasks waiting for a thread-limiter token."
        )
        self.utilization = self._gauge(
            "looplab_event_loop_utilization_ratio",
            "Busy fraction of the loop since the last update.",
        )

    def _gauge(self, name: str, documentation: str) -> Gauge:
        # liveall: one series per running worker (a pid label), pruned when a worker dies.
        return Gauge(name, documentation, registry=self._registry, multiprocess_mode="liveall")

    def observe_lag(self, lag_s: float, interval_s: float) -> None:
        # The same back-fill as HdrHistogram's record_corrected_value.
        observe = self.lag.observe
        observe(lag_s)
        missing = lag_s - interval_s
        while missing >= interval_s:
            observe(missing)
            missing -= interval_s

    def observe_stall(self, duration_s: float, kind: StallKind) -> None:
        self.stalls.labels(kind).inc()
        self.stall_seconds.labels(kind).inc(duration_s)

    def set_gauges(self, pool: ThreadPoolReading, utilization: float | None) -> None:
        self.capacity_tokens.set(pool.total_tokens)
        self.borrowed_tokens.set(pool.borrowed)
        self.waiting_tasks.set(pool.waiting)
        # NaN, not a stale or made-up number, where the loop cannot be timed (uvloop).
        self.utilization.set(math.nan if utilization is None else utilization)

    def render(self, openmetrics_format: bool = False) -> tuple[bytes, str]:
        """Every worker's metrics (or this process's), and their content type."""
        registry = self._registry
        if registry is None:
            prune_dead_workers(Path(os.environ[MULTIPROC_ENV]))
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        if openmetrics_format:
            body = openmetrics.generate_latest(registry)  # type: ignore[no-untyped-call]
            return body, OPENMETRICS_CONTENT_TYPE
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def prune_dead_workers(path: Path) -> list[int]:
    """Drop the live-gauge files of processes that have exited; return their pids.

    No supervisor tells us when a worker dies (uvicorn restarts one silently), so
    the scrape checks: without this a dead worker's gauges would stay forever.
    """
    dead = set()
    for file in path.glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.match(file.name)
        if match and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
    return sorted(dead)
