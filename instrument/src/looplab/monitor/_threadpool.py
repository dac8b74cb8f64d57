"""Gauges of AnyIO's default thread limiter: the pool behind ``def`` routes,
``run_in_threadpool`` and ``asyncify``."""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
from anyio import CapacityLimiter

__all__ = ["ThreadPoolReading", "read_limiter", "set_thread_tokens"]


@dataclass(frozen=True, slots=True)
class ThreadPoolReading:
    total_tokens: int
    borrowed: int
    waiting: int


def set_thread_tokens(total: int) -> None:
    """Size AnyIO's default thread limiter for the running event loop (call it in a lifespan)."""
    if total < 1:
        raise ValueError(f"thread tokens must be at least 1, not {total}")
    anyio.to_thread.current_default_thread_limiter().total_tokens = total


def read_limiter(limiter: CapacityLimiter) -> ThreadPoolReading:
    statistics = limiter.statistics()
    return ThreadPoolReading(
        total_tokens=int(limiter.total_tokens),
        borrowed=statistics.borrowed_tokens,
        waiting=statistics.tasks_waiting,
    )
