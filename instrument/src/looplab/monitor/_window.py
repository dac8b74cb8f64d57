"""A window: the figures one consumer has seen since it last started afresh.

Several consumers read the monitor at once (a bench, a dashboard, a person), so
each reads its own window; resetting one leaves the others alone.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
from collections import Counter, deque
from datetime import UTC, datetime

from hdrh.histogram import HdrHistogram

from looplab.protocol import Blocker, Frame, LagFigures, Stall, StallKind

__all__ = ["CORRECTED_FIGURES", "Window", "corrected_indexes", "warm_up"]

# Microsecond resolution up to an hour of lag, three significant figures.
_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000
_SIGNIFICANT_FIGURES = 3
_RECENT_STALLS = 20
_TOP_BLOCKERS = 10

# The percentiles come from the histogram corrected for coordinated omission;
# max is the raw worst tick (correction only adds smaller values, so it is the same).
CORRECTED_FIGURES = ("p50", "p90", "p99", "p999", "mean")


def _new_histogram() -> HdrHistogram:
    return HdrHistogram(_LOWEST_US, _HIGHEST_US, _SIGNIFICANT_FIGURES)


@functools.cache
def _index_values() -> tuple[list[int], list[int]]:
    """(highest, median) equivalent value of every counts index of our histograms.

    hdrh answers percentiles and the mean by walking its ~23k counts in Python,
    about 45 ms per snapshot: a stall the monitor would cause itself. With these
    tables a snapshot is a few C-speed passes (accumulate, bisect, a dot product).
    The arithmetic is hdrh's own (checked index by index in the tests).
    """
    histogram = _new_histogram()
    half = histogram.sub_bucket_half_count
    magnitude = histogram.sub_bucket_half_count_magnitude
    unit = histogram.unit_magnitude
    highest, median = [], []
    for index in range(histogram.counts_len):
        bucket = (index >> magnitude) - 1
        sub_bucket = (index & (half - 1)) + half
        if bucket < 0:
            sub_bucket -= half
            bucket = 0
        lowest = sub_bucket << (bucket + unit)
        size = 1 << (bucket + unit)
        highest.append(lowest + size - 1)
        median.append(lowest + (size >> 1))
    return highest, median


def _counts(histogram: HdrHistogram, up_to: int) -> list[int]:
    # The counts are a ctypes array of unsigned 64-bit words: copy them out in C,
    # only as far as the largest value recorded (the rest are zeros).
    counts: list[int] = memoryview(histogram.counts).cast("B").cast("Q")[: up_to + 1].tolist()
    return counts


def corrected_indexes(lag_us: int, interval_us: int) -> list[int]:
    """The counts indexes that one tick ``lag_us`` late adds, corrected for coordinated omission.

    hdrh's ``record_corrected_value``: the value, then the value less one interval at
    a time while it is above the interval (the probes that would have waited). The
    monitor computes them once per tick, for every window.
    """
    highest = _index_values()[0]
    value = min(max(lag_us, 0), _HIGHEST_US)
    indexes = [bisect.bisect_left(highest, value)]
    while interval_us > 0 and value > interval_us:
        value -= interval_us
        indexes.append(bisect.bisect_left(highest, value))
    return indexes


def warm_up() -> None:
    """Compute the index tables now, so no snapshot pays for them."""
    _index_values()


class Window:
    """Loop lag, stalls and the thread-pool peak since ``since``."""

    def __init__(self, utilization_mark: tuple[float, float] | None = None) -> None:
        self.reset(utilization_mark)

    def reset(self, utilization_mark: tuple[float, float] | None = None) -> None:
        self.since = datetime.now(UTC)
        # A fresh histogram: allocated in C, where hdrh's reset() loops in Python.
        self._histogram = _new_histogram()
        self.samples = 0
        self.max_us = 0
        self.stall_count = 0
        self.stall_total_ms = 0.0
        self.recent: deque[Stall] = deque(maxlen=_RECENT_STALLS)
        self._top: dict[Frame, _Blamed] = {}
        self.peak_borrowed = 0
        # (wall clock, idle seconds) when the window began, for its busy fraction.
        self.utilization_mark = utilization_mark

    def record(self, lag_us: int, interval_us: int) -> None:
        """One tick, ``lag_us`` late: back-filled as if probes kept arriving every interval."""
        self.record_indexes(lag_us, corrected_indexes(lag_us, interval_us))

    def record_indexes(self, lag_us: int, indexes: list[int]) -> None:
        """:meth:`record` with the histogram indexes already worked out."""
        self.samples += 1
        if lag_us > self.max_us:
            self.max_us = lag_us
        histogram = self._histogram
        counts = histogram.counts
        for index in indexes:
            counts[index] += 1
        histogram.total_count += len(indexes)
        # hdrh's own bookkeeping that its percentile and mean methods read (min is not kept).
        histogram.max_value = max(histogram.max_value, min(lag_us, _HIGHEST_US))

    def add_stall(self, stall: Stall) -> None:
        self.stall_count += 1
        self.stall_total_ms += stall.duration_ms
        self.recent.append(stall)
        if stall.blame is not None:
            blamed = self._top.get(stall.blame)
            if blamed is None:
                blamed = self._top[stall.blame] = _Blamed()
            blamed.add(stall)

    def lag_ms(self) -> LagFigures:
        total = self._histogram.get_total_count()
        if total == 0:
            worst = round(self.max_us / 1e3, 3)
            return LagFigures(p50=0.0, p90=0.0, p99=0.0, p999=0.0, max=worst, mean=0.0)
        highest, median = _index_values()
        # Corrected values never exceed the raw maximum, so no count lies beyond its index.
        counts = _counts(self._histogram, bisect.bisect_left(highest, self.max_us))
        cumulative = list(itertools.accumulate(counts))

        def at(percentile: float) -> float:
            # hdrh's get_value_at_percentile: the first index holding the target count.
            target = max(int(percentile * total / 100 + 0.5), 1)
            return round(highest[bisect.bisect_left(cumulative, target)] / 1e3, 3)

        mean = sum(map(operator.mul, counts, median)) / total  # zip stops at the counts
        return LagFigures(
            p50=at(50),
            p90=at(90),
            p99=at(99),
            p999=at(99.9),
            max=round(self.max_us / 1e3, 3),
            mean=round(mean / 1e3, 3),
        )

    def top(self) -> list[Blocker]:
        ranked = sorted(self._top.items(), key=lambda item: item[1].total_ms, reverse=True)
        return [blamed.blocker(frame) for frame, blamed in ranked[:_TOP_BLOCKERS]]


class _Blamed:
    """What one blamed line's stalls add up to: count, total, worst and their kinds."""

    __slots__ = ("count", "kinds", "total_ms", "worst_ms")

    def __init__(self) -> None:
        self.count = 0
        self.total_ms = 0.0
        self.worst_ms = 0.0
        self.kinds: Counter[StallKind] = Counter()

    def add(self, stall: Stall) -> None:
        self.count += 1
        self.total_ms += stall.duration_ms
        self.worst_ms = max(self.worst_ms, stall.duration_ms)
        self.kinds[stall.kind] += 1

    def blocker(self, frame: Frame) -> Blocker:
        return Blocker(
            **frame.model_dump(),
            count=self.count,
            total_ms=round(self.total_ms, 3),
            worst_ms=round(self.worst_ms, 3),
            kind=self.kinds.most_common(1)[0][0],
        )
