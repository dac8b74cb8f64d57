"""Why the loop stalled: evidence read on every tick, and the rule that names the kind.

Every tick reads three cheap figures on the loop thread: its own scheduler
statistics (one ``pread`` of ``/proc/self/task/<tid>/schedstat`` on Linux: time on
the CPU and time waiting in the run queue), the process's CPU time, and the time
garbage collection has taken so far (from ``gc.callbacks``). A stall is the
difference between the tick before it and the tick that ends it. The rule, in
order, each "for at least half the stall":

1. ``gc``: collections ran;
2. ``cpu``: the loop thread was on the CPU (Python, or a C call);
3. ``starved``: it was runnable, but waited in the run queue (busy cores, CPU quota);
4. ``gil``: the process's other threads were on the CPU (they held the GIL the loop wanted);
5. ``wait``: otherwise it was off the CPU in a blocking call (I/O, sleep, lock, socket).

Limits: a ``time.sleep`` on the loop while a pool thread computes looks like
``gil``; without ``schedstat`` (not Linux) nothing tells ``starved`` from ``wait``,
so such stalls are ``unknown``.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any, NamedTuple

from looplab.protocol import StallEvidence, StallKind

__all__ = ["EvidenceReader", "Mark", "classify"]


class Mark(NamedTuple):
    """Figures at one tick; the schedstat bytes are parsed only when a stall needs them."""

    at: float
    schedstat: bytes | None
    thread_cpu: float | None  # where there is no schedstat
    process_cpu: float
    gc_s: float


class _GcClock:
    """Total seconds spent in garbage collection while at least one reader is open."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self._started = 0.0
        self._users = 0
        self._lock = threading.Lock()

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total_s += time.perf_counter() - self._started

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1:
                gc.callbacks.append(self._callback)

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._callback in gc.callbacks:
                gc.callbacks.remove(self._callback)


_GC_CLOCK = _GcClock()


def _open_schedstat() -> int | None:
    try:
        return os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY)
    except OSError:  # not Linux, or no scheduler statistics in this kernel
        return None


class EvidenceReader:
    """Reads :class:`Mark` s for the thread that creates it (the loop thread)."""

    def __init__(self) -> None:
        self._fd = _open_schedstat()
        _GC_CLOCK.acquire()
        self._open = True

    @property
    def has_schedstat(self) -> bool:
        return self._fd is not None

    def mark(self) -> Mark:
        """Called on the loop thread: ``thread_time`` and schedstat measure the caller."""
        if self._fd is not None:
            return Mark(
                time.perf_counter(),
                os.pread(self._fd, 96, 0),
                None,
                time.process_time(),
                _GC_CLOCK.total_s,
            )
        return Mark(
            time.perf_counter(), None, time.thread_time(), time.process_time(), _GC_CLOCK.total_s
        )

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._fd is not None:
            os.close(self._fd)
        _GC_CLOCK.release()


def _schedstat(mark: Mark) -> tuple[float, float] | None:
    if mark.schedstat is None:
        return None
    on_cpu_ns, runqueue_ns = mark.schedstat.split()[:2]
    return int(on_cpu_ns) / 1e9, int(runqueue_ns) / 1e9


def evidence_between(start: Mark, end: Mark, watchdog_late_s: float) -> StallEvidence:
    """What the loop thread, the collector and the other threads did from ``start`` to ``end``."""
    first, last = _schedstat(start), _schedstat(end)
    runqueue_s: float | None = None
    if first is not None and last is not None:
        cpu_s = last[0] - first[0]
        runqueue_s = last[1] - first[1]
    else:
        cpu_s = (end.thread_cpu or 0.0) - (start.thread_cpu or 0.0)
    others_s = max(0.0, (end.process_cpu - start.process_cpu) - cpu_s)
    return StallEvidence(
        cpu_ms=round(cpu_s * 1e3, 3),
        runqueue_ms=None if runqueue_s is None else round(runqueue_s * 1e3, 3),
        gc_ms=round((end.gc_s - start.gc_s) * 1e3, 3),
        other_threads_cpu_ms=round(others_s * 1e3, 3),
        watchdog_late_ms=round(watchdog_late_s * 1e3, 3),
    )


def classify(evidence: StallEvidence, duration_ms: float) -> tuple[StallKind, str | None]:
    """The kind of a stall of ``duration_ms`` (the rule in this module's docstring)."""
    half = duration_ms / 2
    if evidence.gc_ms >= half:
        return "gc", None
    if evidence.cpu_ms >= half:
        return "cpu", None
    if evidence.runqueue_ms is None:
        if evidence.other_threads_cpu_ms >= half:
            return "gil", None
        return "unknown", (
            "the loop thread was off the CPU, and this platform has no run-queue figures "
            "to tell a blocking call from a busy machine"
        )
    if evidence.runqueue_ms >= half:
        return "starved", None
    if evidence.other_threads_cpu_ms >= half:
        return "gil", None
    return "wait", None
