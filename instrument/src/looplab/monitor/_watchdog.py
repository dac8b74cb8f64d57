"""The watchdog: a thread that samples the loop thread's stack while the loop is stalled.

The loop cannot report its own stall while it is stuck, so a second thread
watches the ticker's heartbeat. Once the next tick is overdue it reads the loop
thread's stack with ``sys._current_frames()`` every polling period, until the
loop ticks again and collects the samples. GIL caveat: a C call that holds the
GIL also stops this thread, which delays (or prevents) the sample; the lag
itself is measured by the ticker and stays exact.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from looplab.monitor._frames import RawFrame, current_stack_of

__all__ = ["Sample", "Watchdog"]


class Sample(NamedTuple):
    """The loop thread's stack during a stall, and what ``probe`` said at that moment."""

    stack: list[RawFrame]
    context: Any


# A stall of many seconds must not grow memory without bound; its first samples name it.
_MAX_SAMPLES = 256
# Look at the heartbeat at least this often, whatever the loop promised.
_MAX_SLEEP_S = 0.25


class Watchdog:
    """Samples ``loop_thread_id``'s stack whenever the heartbeat is ``sample_after_s`` overdue."""

    def __init__(
        self,
        loop_thread_id: int,
        period_s: float,
        sample_after_s: float,
        probe: Callable[[], Any] = lambda: None,
    ) -> None:
        self._loop_thread_id = loop_thread_id
        self._probe = probe
        self._period_s = period_s
        self._sample_after_s = sample_after_s
        # (sequence number, perf_counter time the next tick is due), replaced whole so the
        # watchdog never reads a half-updated pair without taking a lock on every tick.
        self._beat: tuple[int, float] = (0, math.inf)
        self._samples: list[tuple[int, Sample]] = []
        # How late this thread's own sleeps ended since the last beat (a busy machine, or the GIL).
        self._late_s = 0.0
        self._lock = threading.Lock()
        # Held until stop(): the watchdog sleeps by waiting for it, so stop() wakes it at once
        # (a lock's timed acquire costs no more than time.sleep, unlike Event.wait).
        self._stop = threading.Lock()
        self._stop.acquire()
        self._thread = threading.Thread(target=self._run, name="looplab-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stop.locked():
            self._stop.release()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    @property
    def native_id(self) -> int:
        native_id = self._thread.native_id
        if native_id is None:
            raise RuntimeError("the watchdog thread has not started")
        return native_id

    def beat(self, next_due: float) -> None:
        """Called by the loop thread on every tick: the loop is alive until ``next_due``."""
        self._beat = (self._beat[0] + 1, next_due)
        self._late_s = 0.0
        if self._samples:
            with self._lock:
                self._samples.clear()

    def take(self) -> tuple[list[Sample], float]:
        """The samples since the last beat, and how late this thread woke at worst meanwhile.

        Called by the loop thread.
        """
        current = self._beat[0]
        with self._lock:
            taken = [sample for seq, sample in self._samples if seq == current]
            self._samples.clear()
        return taken, self._late_s

    def _run(self) -> None:
        # Every wake of this thread takes the GIL from the loop thread for a moment, so it
        # sleeps until the heartbeat would be sample_after_s overdue: a healthy loop beats
        # first, and this thread wakes a few dozen times a second, not every period. Once
        # the loop is overdue, it samples every period until the next beat.
        while True:
            seq, due = self._beat
            now = time.perf_counter()
            wait = due + self._sample_after_s - now
            if wait > 0:
                if self._sleep(min(wait, _MAX_SLEEP_S)):
                    return
                continue
            stack = current_stack_of(self._loop_thread_id)
            if stack is not None:
                sample = Sample(stack, self._probe())
                with self._lock:
                    # A beat in between means the loop moved on: this stack is not the stall's.
                    if self._beat[0] == seq and len(self._samples) < _MAX_SAMPLES:
                        self._samples.append((seq, sample))
            if self._sleep(self._period_s):
                return

    def _sleep(self, seconds: float) -> bool:
        """Sleep, noting how late the wake came (a busy machine, or the GIL held); True: stop."""
        intended = time.perf_counter() + seconds
        if self._stop.acquire(timeout=seconds):
            return True
        late = time.perf_counter() - intended
        if late > self._late_s:
            self._late_s = late
        return False
