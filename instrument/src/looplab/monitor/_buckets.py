"""The lag histogram's bucket boundaries, shared by the Prometheus and OpenTelemetry exports."""

from __future__ import annotations

__all__ = ["LAG_BUCKETS"]

# Seconds: fine below a millisecond, where a healthy loop lives, and up to a 10 s stall.
LAG_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05,
    0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
