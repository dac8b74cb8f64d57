"""Which request each task serves: the instrument's ASGI middleware and a task factory.

The watchdog thread can read the loop thread's stack, but not a task's contextvars
(another thread cannot, before Python 3.12). It can ask asyncio which task is running
(``asyncio.current_task(loop)``). So the middleware records task -> request for the
task that serves a request, and a task factory hands the record on to every task
that task starts: a ``StreamingResponse`` body, ``BaseHTTPMiddleware``'s
``call_next`` and ``asyncio.create_task`` from a handler all run in child tasks.
The endpoint's frame is often not on the blocked stack at all (a dependency, a
stream body); the request is.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping, MutableMapping
from types import CodeType
from typing import Any

from looplab.protocol import Waiting

__all__ = [
    "RequestTracker",
    "Scope",
    "in_flight_on",
    "install_task_factory",
    "route_of_request",
    "served_by",
    "waiting_of",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def route_of_request(scope: Scope, routes: Mapping[CodeType, str]) -> tuple[str, bool]:
    """``(route, is_template)`` of a request: the matched route's template, else the raw path.

    Routing fills the scope in as it matches (``endpoint``, ``route``), so a scope read
    later says how far the request has got.
    """
    code = getattr(scope.get("endpoint"), "__code__", None)
    if code is not None:
        template = routes.get(code)
        if template is None:
            # An app the monitor was not told about: the innermost route's own path.
            template = getattr(scope.get("route"), "path", None)
        if isinstance(template, str):
            return template, True
    return str(scope.get("path", "")), False


# Read by the watchdog thread while the loop thread is stuck: plain dicts, whose single
# lookups are atomic under the GIL. The request's scope is its record. Task keys leave
# when the request ends or the task does; requests in flight are kept per loop.
_TASKS: dict[asyncio.Task[Any], Scope] = {}
_IN_FLIGHT: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Scope]] = (
    weakref.WeakKeyDictionary()
)


def served_by(loop: asyncio.AbstractEventLoop) -> Scope | None:
    """The request served by the task running on ``loop`` now (callable from any thread)."""
    if not _TASKS:
        return None
    task = asyncio.current_task(loop)
    return None if task is None else _TASKS.get(task)


def in_flight_on(loop: asyncio.AbstractEventLoop) -> tuple[Scope, ...]:
    """The requests in flight on ``loop`` (callable from any thread)."""
    requests = _IN_FLIGHT.get(loop)
    return () if requests is None else tuple(requests.values())


def waiting_of(
    requests: tuple[Scope, ...],
    blocked: Scope | None,
    routes: Mapping[CodeType, str],
) -> Waiting:
    """The requests a stall held up: those in flight, less the one that blocked."""
    held = Counter(
        route_of_request(request, routes)[0] for request in requests if request is not blocked
    )
    return Waiting(count=sum(held.values()), by_route=dict(held.most_common()))


def _forget(task: asyncio.Task[Any]) -> None:
    _TASKS.pop(task, None)


def install_task_factory(loop: asyncio.AbstractEventLoop) -> None:
    """Chain a factory that passes a task's request on to the tasks it creates (once per loop)."""
    previous = loop.get_task_factory()
    if getattr(previous, "_looplab_requests", False):
        return

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Future[Any]:
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        if _TASKS and isinstance(task, asyncio.Task):
            parent = asyncio.current_task(loop)
            served = None if parent is None else _TASKS.get(parent)
            if served is not None:
                _TASKS[task] = served
                task.add_done_callback(_forget)
        return task

    factory._looplab_requests = True  # type: ignore[attr-defined]
    loop.set_task_factory(factory)  # type: ignore[arg-type]  # typeshed's protocol lags


class RequestTracker:
    """ASGI middleware: records which task serves which HTTP request, for the watchdog.

    It runs on every request, so it is kept to a few dict operations (~1 µs).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: dict[int, Scope] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            task = asyncio.current_task()
        except RuntimeError:  # not asyncio (trio): the stack-based route is the fallback
            task = None
        if task is None:
            await self.app(scope, receive, send)
            return
        loop = task.get_loop()
        if loop is not self._loop:
            self._adopt(loop)
        in_flight, key = self._in_flight, id(scope)
        # httpx's ASGITransport serves a request inside the caller's task: restore its own.
        previous = _TASKS.get(task)
        _TASKS[task] = scope
        in_flight[key] = scope
        try:
            await self.app(scope, receive, send)
        finally:
            del in_flight[key]
            if previous is None:
                del _TASKS[task]
            else:
                _TASKS[task] = previous

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> None:
        install_task_factory(loop)
        self._loop = loop
        self._in_flight = _IN_FLIGHT.setdefault(loop, {})
