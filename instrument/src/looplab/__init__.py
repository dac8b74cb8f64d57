"""looplab: measure what blocking work does to an asyncio event loop.

The monitor (:mod:`looplab.monitor`), assertions for tests (:mod:`looplab.testing`),
the JSON contracts (:mod:`looplab.protocol`) and the verdict rule
(:mod:`looplab.verdict`) need only looplab's core dependencies. The bench
(:mod:`looplab.bench`) and the ``looplab`` command need the ``bench`` extra.
The names below are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

__version__ = "0.2.0"

_HOMES = {
    "Frame": "looplab.monitor",
    "LoopMonitor": "looplab.monitor",
    "Stall": "looplab.monitor",
    "instrument": "looplab.monitor",
    "new_event_loop": "looplab.monitor",
    "set_thread_tokens": "looplab.monitor",
    "assert_responsive": "looplab.testing",
    "expect_blocking": "looplab.testing",
    "measure_lag": "looplab.testing",
}


def __getattr__(name: str) -> Any:
    # `import looplab` (which the pytest plugin's import implies) stays cheap:
    # nothing is imported until a name is used.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
