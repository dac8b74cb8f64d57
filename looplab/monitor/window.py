"""A window: the figures one consumer has seen since it last started afresh.

Several consumers read the monitor at once (a bench, a dashboard, a person), so
each reads its own window; resetting one leaves the others alone.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any

from hdrh.histogram import HdrHistogram

from looplab.monitor.frames import Frame
from looplab.monitor.stalls import Stall

__all__ = ["Window"]

# Microsecond resolution up to an hour of lag, three significant figures.
_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000
_SIGNIFICANT_FIGURES = 3
_RECENT_STALLS = 20
_TOP_BLOCKERS = 10

# The percentiles come from the histogram corrected for coordinated omission;
# max is the raw worst tick (correction only adds smaller values, so it is the same).
CORRECTED_FIGURES = ("p50", "p90", "p99", "p999", "mean")


class Window:
    """Loop lag, stalls and the thread-pool peak since ``since``."""

    def __init__(self, utilization_mark: tuple[float, float] | None = None) -> None:
        self._histogram = HdrHistogram(_LOWEST_US, _HIGHEST_US, _SIGNIFICANT_FIGURES)
        self.reset(utilization_mark)

    def reset(self, utilization_mark: tuple[float, float] | None = None) -> None:
        self.since = datetime.now(UTC)
        self._histogram.reset()
        self.samples = 0
        self.max_us = 0
        self.stall_count = 0
        self.stall_total_ms = 0.0
        self.recent: deque[Stall] = deque(maxlen=_RECENT_STALLS)
        self._top: dict[Frame, list[float]] = {}
        self.peak_borrowed = 0
        # (wall clock, idle seconds) when the window began, for its busy fraction.
        self.utilization_mark = utilization_mark

    def record(self, lag_us: int, interval_us: int) -> None:
        """One tick, ``lag_us`` late: back-filled as if probes kept arriving every interval."""
        self.samples += 1
        self.max_us = max(self.max_us, lag_us)
        self._histogram.record_corrected_value(min(lag_us, _HIGHEST_US), interval_us)

    def add_stall(self, stall: Stall) -> None:
        self.stall_count += 1
        self.stall_total_ms += stall.duration_ms
        self.recent.append(stall)
        if stall.blame is not None:
            entry = self._top.setdefault(stall.blame, [0, 0.0])
            entry[0] += 1
            entry[1] += stall.duration_ms

    def lag_ms(self) -> dict[str, float]:
        def at(percentile: float) -> float:
            return round(float(self._histogram.get_value_at_percentile(percentile)) / 1e3, 3)

        empty = self._histogram.get_total_count() == 0
        return {
            "p50": at(50),
            "p90": at(90),
            "p99": at(99),
            "p999": at(99.9),
            "max": round(self.max_us / 1e3, 3),
            "mean": 0.0 if empty else round(self._histogram.get_mean_value() / 1e3, 3),
        }

    def top(self) -> list[dict[str, Any]]:
        ranked = sorted(self._top.items(), key=lambda item: item[1][1], reverse=True)
        return [
            {**frame.as_dict(), "count": int(count), "total_ms": round(total, 3)}
            for frame, (count, total) in ranked[:_TOP_BLOCKERS]
        ]
