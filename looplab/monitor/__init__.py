"""The event-loop monitor: lag, stalls with blame, thread pool and utilization."""

from looplab.monitor.frames import Frame, is_user_file
from looplab.monitor.install import instrument
from looplab.monitor.loop_monitor import DEFAULT_WINDOW, LoopMonitor
from looplab.monitor.prometheus import prepare_multiprocess_dir
from looplab.monitor.routes import monitor_router, ping_router
from looplab.monitor.stalls import Stall
from looplab.monitor.threadpool import set_thread_tokens
from looplab.monitor.utilization import new_event_loop
from looplab.monitor.window import Window

__all__ = [
    "DEFAULT_WINDOW",
    "Frame",
    "LoopMonitor",
    "Stall",
    "Window",
    "instrument",
    "is_user_file",
    "monitor_router",
    "new_event_loop",
    "ping_router",
    "prepare_multiprocess_dir",
    "set_thread_tokens",
]
