"""The ticker: a callback the loop runs every interval, on asyncio (and uvloop) or trio.

On asyncio it is a plain ``call_later`` callback: no task, so it costs a few
microseconds per tick. Trio has no ``call_later``, so there it is a system task
that sleeps until the next tick is due. Either way nothing is patched: any kind of
blocking, Python, C extension or system call, delays the tick the same.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["NotInEventLoop", "Ticker", "running_loop", "start_ticker"]


class NotInEventLoop(RuntimeError):
    """looplab was asked to measure a loop, but no asyncio or trio loop runs in this thread."""

    def __init__(self) -> None:
        super().__init__(
            "looplab measures the event loop it is started on: start it from async code "
            "running under asyncio (uvloop included) or trio, in the loop's own thread"
        )


class Ticker(Protocol):
    def schedule(self, delay_s: float) -> None:
        """Run the callback ``delay_s`` from now (and not at any time set before)."""

    def cancel(self) -> None: ...


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop; ``None`` under trio; :class:`NotInEventLoop` otherwise."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        return None
    raise NotInEventLoop


class _AsyncioTicker:
    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None

    def schedule(self, delay_s: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_later(delay_s, self._callback)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class _TrioTicker:
    def __init__(self, callback: Callable[[], None]) -> None:
        import trio

        self._callback = callback
        self._due = 0.0
        self._scope = trio.CancelScope()
        trio.lowlevel.spawn_system_task(self._run, name="looplab-ticker")

    def schedule(self, delay_s: float) -> None:
        # The task re-reads the due time whenever it wakes.
        self._due = time.perf_counter() + delay_s

    def cancel(self) -> None:
        self._scope.cancel()

    async def _run(self) -> None:
        import trio

        with self._scope:
            while True:
                delay = self._due - time.perf_counter()
                if delay > 0:
                    await trio.sleep(delay)
                else:
                    self._due = float("inf")
                    self._callback()


def start_ticker(loop: asyncio.AbstractEventLoop | None, callback: Callable[[], None]) -> Ticker:
    """A ticker on ``loop`` (``None``: the running trio run); arm it with ``schedule``."""
    if loop is None:
        return _TrioTicker(callback)
    return _AsyncioTicker(loop, callback)
