"""The load and the probe each run in a process of their own, started once per bench.

Sharing a process (and its GIL, and its event loop) with the load would make
the probe late whenever the load is busy, and the lateness would be blamed on
the server. A spawned process that lives for the whole bench costs its start-up
once; each run is one message in and one result out over a pipe. Both sides
meet at a common ``time.monotonic()`` start, which is one clock for every
process on Linux and macOS.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import signal
from collections.abc import Callable, Coroutine
from typing import Any, overload

from looplab.bench._load import LoadResult, load
from looplab.bench._probe import ProbeResult, probe

__all__ = ["ClientProcess", "ClientProcessError"]

_JOBS: dict[str, Callable[..., Coroutine[Any, Any, LoadResult | ProbeResult]]] = {
    "load": load,
    "probe": probe,
}


class ClientProcessError(RuntimeError):
    """A job failed in the client process; the message carries its error."""


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    # uvloop makes the client cheaper per request, so it stays ahead of the server.
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def _serve(conn: multiprocessing.connection.Connection) -> None:
    # Ctrl-C or a closed terminal signals the whole process group: the bench itself
    # handles it and closes this process; here it would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        while True:
            message = conn.recv()
            if message is None:
                return
            kind, kwargs = message
            try:
                result = runner.run(_JOBS[kind](**kwargs))
            except Exception as exc:
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
            else:
                conn.send(("ok", result))


class ClientProcess:
    """A spawned process that runs ``load`` or ``probe`` jobs, one at a time."""

    def __init__(self, name: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), name=name, daemon=True)
        self._process.start()
        child.close()

    def submit(self, kind: str, **kwargs: Any) -> None:
        """Start a job (``"load"`` or ``"probe"``, with that function's keyword arguments)."""
        self._conn.send((kind, kwargs))

    @overload
    def result(self, kind: type[LoadResult], timeout: float) -> LoadResult: ...
    @overload
    def result(self, kind: type[ProbeResult], timeout: float) -> ProbeResult: ...
    def result(
        self, kind: type[LoadResult] | type[ProbeResult], timeout: float
    ) -> LoadResult | ProbeResult:
        """Wait for the job's result, of the ``kind`` submitted."""
        if not self._conn.poll(timeout):
            raise ClientProcessError(f"{self._process.name} gave no result in {timeout:.0f}s")
        status, payload = self._conn.recv()
        if status != "ok":
            raise ClientProcessError(f"{self._process.name}: {payload}")
        if not isinstance(payload, kind):
            raise ClientProcessError(f"{self._process.name}: expected a {kind.__name__}")
        return payload

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._process.join(5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        self._conn.close()
