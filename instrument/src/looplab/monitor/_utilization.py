"""Loop utilization: the busy fraction of wall time, like Node's ``eventLoopUtilization``.

An asyncio loop is idle exactly while it waits in its selector's ``select()``, so a
loop created by :func:`new_event_loop` times that call. Nothing is patched: the
selector is an ordinary subclass handed to ``SelectorEventLoop``. Run an app on it
with ``uvicorn --loop looplab.monitor:new_event_loop`` or
``asyncio.Runner(loop_factory=looplab.monitor.new_event_loop)``. Other loops
(uvloop, or a loop made elsewhere) report ``None``.
"""

from __future__ import annotations

import asyncio
import selectors
import time
import weakref
from typing import Any

__all__ = ["TimedSelector", "idle_mark", "new_event_loop", "utilization_between"]


class TimedSelector(selectors.DefaultSelector):
    """The platform's default selector, adding up the seconds spent waiting in ``select()``."""

    idle_seconds: float = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        started = time.perf_counter()
        try:
            return super().select(timeout)
        finally:
            self.idle_seconds += time.perf_counter() - started


_SELECTORS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TimedSelector] = (
    weakref.WeakKeyDictionary()
)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A standard asyncio loop whose idle time looplab can read (a loop factory)."""
    selector = TimedSelector()
    loop = asyncio.SelectorEventLoop(selector)
    _SELECTORS[loop] = selector
    return loop


def idle_mark(loop: asyncio.AbstractEventLoop) -> tuple[float, float] | None:
    """(wall seconds, idle seconds so far) for ``loop``, or ``None`` if it is not timed."""
    selector = _SELECTORS.get(loop)
    if selector is None:
        return None
    return time.perf_counter(), selector.idle_seconds


def utilization_between(
    start: tuple[float, float] | None, end: tuple[float, float] | None
) -> float | None:
    """Busy fraction of the wall time between two marks of the same loop."""
    if start is None or end is None:
        return None
    wall = end[0] - start[0]
    if wall <= 0:
        return None
    busy = 1.0 - (end[1] - start[1]) / wall
    return round(min(1.0, max(0.0, busy)), 4)
