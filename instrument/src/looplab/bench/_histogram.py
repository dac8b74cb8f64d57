"""Latency percentiles from an HDR histogram, in milliseconds."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

__all__ = ["LatencyHistogram"]

# Microsecond resolution, up to ten minutes, three significant figures: a stall
# of any length lands in the histogram instead of being clipped.
_LOWEST_US = 1
_HIGHEST_US = 600 * 1_000_000
_DIGITS = 3


class LatencyHistogram:
    """Record latencies in seconds; read percentiles in milliseconds."""

    def __init__(self) -> None:
        self._hist = HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)

    def record(self, seconds: float) -> None:
        micros = min(max(round(seconds * 1e6), _LOWEST_US), _HIGHEST_US)
        self._hist.record_value(micros)

    @property
    def count(self) -> int:
        return int(self._hist.get_total_count())

    def percentile_ms(self, percentile: float) -> float:
        if self.count == 0:
            return 0.0
        return round(float(self._hist.get_value_at_percentile(percentile)) / 1000, 3)

    def max_ms(self) -> float:
        return round(self._hist.get_max_value() / 1000, 3) if self.count else 0.0

    def summary(self, *percentiles: float) -> dict[str, float]:
        """``{"p50": ..., "p99": ..., "max": ...}`` for the percentiles asked."""
        figures = {f"p{p:g}": self.percentile_ms(p) for p in percentiles}
        figures["max"] = self.max_ms()
        return figures
