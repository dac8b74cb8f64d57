"""The event-loop monitor: lag, stalls with blame, thread pool and utilization.

:class:`LoopMonitor` measures any asyncio loop and needs nothing beyond looplab's
core. :func:`instrument` and the routers wire it into a FastAPI or Starlette app
(the ``fastapi`` extra); ``/metrics`` needs the ``prometheus`` extra. Those are
imported on first use, so ``import looplab.monitor`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from looplab._extras import requires
from looplab.monitor._frames import is_user_file
from looplab.monitor._loop_monitor import DEFAULT_WINDOW, LoopMonitor
from looplab.monitor._threadpool import set_thread_tokens
from looplab.monitor._utilization import new_event_loop
from looplab.monitor._window import Window
from looplab.protocol import Frame, MonitorSnapshot, Stall

if TYPE_CHECKING:
    from looplab.monitor._install import instrument
    from looplab.monitor._prometheus import prepare_multiprocess_dir
    from looplab.monitor._routes import metrics_router, monitor_router, ping_router

__all__ = [
    "DEFAULT_WINDOW",
    "Frame",
    "LoopMonitor",
    "MonitorSnapshot",
    "Stall",
    "Window",
    "instrument",
    "is_user_file",
    "metrics_router",
    "monitor_router",
    "new_event_loop",
    "ping_router",
    "prepare_multiprocess_dir",
    "set_thread_tokens",
]

# name -> (private module, extra, what the extra is for)
_LAZY = {
    "instrument": ("_install", "fastapi", "looplab.monitor.instrument"),
    "monitor_router": ("_routes", "fastapi", "looplab.monitor.monitor_router"),
    "metrics_router": ("_routes", "fastapi", "looplab.monitor.metrics_router"),
    "ping_router": ("_routes", "fastapi", "looplab.monitor.ping_router"),
    "prepare_multiprocess_dir": ("_prometheus", "prometheus", "Prometheus multiprocess mode"),
}


def __getattr__(name: str) -> Any:
    try:
        module, extra, feature = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    import importlib

    with requires(extra, feature):
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
