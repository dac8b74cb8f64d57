"""One call wires the monitor into any FastAPI or Starlette app: routes and lifespan."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from looplab.monitor._frames import is_user_file
from looplab.monitor._loop_monitor import SHUTDOWN, STARTUP, LoopMonitor
from looplab.monitor._requests import RequestTracker
from looplab.monitor._routes import metrics_router, monitor_router, ping_router
from looplab.monitor._threadpool import set_thread_tokens

__all__ = ["MONITOR_ENV", "THREAD_TOKENS_ENV", "instrument"]

MONITOR_ENV = "LOOPLAB_MONITOR"
THREAD_TOKENS_ENV = "LOOPLAB_THREAD_TOKENS"


def _enabled_from(env: Mapping[str, str]) -> bool:
    return env.get(MONITOR_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def _tokens_from(env: Mapping[str, str]) -> int | None:
    raw = env.get(THREAD_TOKENS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{THREAD_TOKENS_ENV} must be a positive integer, not {raw!r}")
    return int(raw)


def instrument(
    app: Starlette,
    *,
    prefix: str = "",
    enabled: bool | None = None,
    thread_tokens: int | None = None,
    interval_ms: float = 5.0,
    stall_threshold_ms: float = 50.0,
    is_user_frame: Callable[[str], bool] = is_user_file,
    metrics: bool | None = None,
    otel: bool = False,
    meter_provider: Any = None,
    env: Mapping[str, str] | None = None,
) -> LoopMonitor | None:
    """Mount the monitor's routes under ``prefix`` and run it in ``app``'s lifespan.

    ``app`` is a FastAPI app, or any Starlette app (the routes then live in a small
    FastAPI app mounted at ``prefix``; call this after adding your own routes).

    ``enabled`` and ``thread_tokens`` default to ``LOOPLAB_MONITOR`` (``0`` turns the
    monitor off: only ``/ping`` is mounted) and ``LOOPLAB_THREAD_TOKENS`` (the size of
    AnyIO's default thread limiter, applied at startup even with the monitor off).
    ``metrics`` mounts ``/metrics``: ``None`` (the default) does so when
    prometheus-client is installed (the ``prometheus`` extra), ``True`` insists.
    ``otel=True`` (or a ``meter_provider``) exports to OpenTelemetry (the ``otel`` extra).

    An ASGI middleware records which request each task serves, so a stall names its
    route and the requests it held up; it stays the outermost layer even when
    middleware is added after this call. Returns the monitor, or ``None`` when it is off.
    """
    env = os.environ if env is None else env
    enabled = _enabled_from(env) if enabled is None else enabled
    tokens = _tokens_from(env) if thread_tokens is None else thread_tokens
    if tokens is not None and tokens < 1:
        raise ValueError(f"thread_tokens must be at least 1, not {tokens}")
    if metrics is None:
        metrics = importlib.util.find_spec("prometheus_client") is not None
    routers = [ping_router()]
    monitor = None
    if enabled:
        monitor = LoopMonitor(
            interval_ms=interval_ms,
            stall_threshold_ms=stall_threshold_ms,
            app=app,
            is_user_frame=is_user_frame,
            prometheus=metrics,
            otel=otel,
            meter_provider=meter_provider,
        )
        routers.append(monitor_router(monitor))
        if metrics:
            routers.append(metrics_router(monitor))
    _mount(app, prefix, routers)
    app.router.lifespan_context = _wrap_lifespan(app.router.lifespan_context, monitor, tokens)
    if monitor is not None:
        _track_requests(app)
    return monitor


def _track_requests(app: Starlette) -> None:
    # Starlette builds its middleware stack on the first call, from every middleware added
    # by then: wrapping the builder keeps the tracker outside all of them.
    build = app.build_middleware_stack

    def build_tracked() -> Any:
        return RequestTracker(build())

    app.build_middleware_stack = build_tracked  # type: ignore[method-assign]


def _mount(app: Starlette, prefix: str, routers: list[APIRouter]) -> None:
    if isinstance(app, FastAPI):
        for router in routers:
            app.include_router(router, prefix=prefix)
        return
    # A plain Starlette app cannot hold FastAPI routes (query validation, SSE), but it
    # can mount a FastAPI app that does, without docs of its own.
    sub_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for router in routers:
        sub_app.include_router(router)
    app.router.routes.append(Mount(prefix, app=sub_app))


def _set_phase(monitor: LoopMonitor | None, phase: str | None) -> None:
    if monitor is not None:
        # The tick due now ends any stall of the phase before, under that phase's name.
        monitor.catch_up()
        monitor.phase = phase


def _wrap_lifespan(
    inner: Callable[[Any], AbstractAsyncContextManager[Any]],
    monitor: LoopMonitor | None,
    tokens: int | None,
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        if tokens is not None:
            set_thread_tokens(tokens)
        if monitor is not None:
            monitor.start()
            monitor.phase = STARTUP
        try:
            async with inner(app) as state:
                _set_phase(monitor, None)
                yield state
                _set_phase(monitor, SHUTDOWN)
        finally:
            if monitor is not None:
                monitor.stop()
                monitor.phase = None

    return lifespan
