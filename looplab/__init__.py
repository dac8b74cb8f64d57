"""looplab: an instrument for blocking work on the asyncio event loop, and a lab to study it."""

from looplab.monitor import (
    Frame,
    LoopMonitor,
    Stall,
    instrument,
    new_event_loop,
    set_thread_tokens,
)
from looplab.testing import assert_responsive, expect_blocking, measure_lag

__all__ = [
    "Frame",
    "LoopMonitor",
    "Stall",
    "assert_responsive",
    "expect_blocking",
    "instrument",
    "measure_lag",
    "new_event_loop",
    "set_thread_tokens",
]
