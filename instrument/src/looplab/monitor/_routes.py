"""The monitor's HTTP routes: ``/ping``, ``/monitor``, ``/monitor/stream`` and ``/metrics``.

Every named window costs the ticker a little on every tick, so a consumer that is
done with its window can ``DELETE /monitor?window=NAME``; at most 32 are kept
(the least recently read goes first).

These routes expose stacks and file paths of the server: mounting them is an
explicit choice (see :func:`looplab.monitor.instrument`), under a prefix of yours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from looplab.monitor._loop_monitor import DEFAULT_WINDOW, WINDOW_NAME, LoopMonitor
from looplab.protocol import Message, MonitorSnapshot, Ping

__all__ = ["metrics_router", "monitor_router", "ping_router"]

WindowName = Annotated[
    str, Query(pattern=WINDOW_NAME.pattern, description="The named window to read.")
]


def ping_router() -> APIRouter:
    """``GET /ping``: mounted even with the monitor off, so overhead can be compared."""
    router = APIRouter(tags=["monitor"])

    # Documented, not validated: the probe's path must stay the cheapest route there is.
    @router.get("/ping", response_class=Response, responses={200: {"model": Ping}})
    async def ping() -> Response:
        """Answer at once: the cheapest async route, for probes."""
        # A prebuilt body skips response-model validation and JSON encoding.
        return Response(b'{"ok":true}', media_type="application/json")

    return router


def monitor_router(monitor: LoopMonitor) -> APIRouter:
    """``/monitor`` and ``/monitor/stream`` reading ``monitor``."""
    router = APIRouter(tags=["monitor"])

    @router.get("/monitor")
    async def read_monitor(
        window: WindowName = DEFAULT_WINDOW, reset: bool = False
    ) -> MonitorSnapshot:
        """Read a named window of loop lag, stalls and thread-pool figures."""
        chosen = monitor.window(window)
        snapshot = monitor.snapshot(chosen, window)
        if reset:
            monitor.reset(chosen)
        return snapshot

    @router.delete(
        "/monitor",
        status_code=204,
        response_class=Response,
        responses={
            404: {"model": Message, "description": "No window of that name."},
            409: {"model": Message, "description": "The default window cannot be dropped."},
        },
    )
    async def drop_monitor_window(window: WindowName) -> Response:
        """Forget a named window once its consumer is done with it."""
        if window == DEFAULT_WINDOW:
            raise HTTPException(status_code=409, detail="the default window cannot be dropped")
        if not monitor.drop_window(window):
            raise HTTPException(status_code=404, detail=f"no window named {window!r}")
        return Response(status_code=204)

    # Any other method gets 405 naming both of /monitor's methods: left alone, Starlette
    # would answer from the first route that matches the path, GET, and say "Allow: GET".
    @router.api_route(
        "/monitor", methods=["POST", "PUT", "PATCH", "OPTIONS", "TRACE"], include_in_schema=False
    )
    async def monitor_other_methods() -> Response:
        return Response(
            '{"detail":"Method Not Allowed"}',
            status_code=405,
            media_type="application/json",
            headers={"allow": "GET, DELETE"},
        )

    @router.get("/monitor/stream", response_class=EventSourceResponse)
    async def stream_monitor(
        period_ms: Annotated[int, Query(ge=50, le=5000)] = 250,
    ) -> AsyncIterator[ServerSentEvent]:
        """Stream this connection's own window as ``monitor`` events."""
        window = monitor.open_window()
        try:
            while True:
                await anyio.sleep(period_ms / 1e3)
                yield ServerSentEvent(
                    event="monitor", raw_data=monitor.snapshot(window).model_dump_json()
                )
        finally:
            monitor.close_window(window)

    return router


def metrics_router(monitor: LoopMonitor) -> APIRouter:
    """``GET /metrics``: the Prometheus exposition of ``monitor`` (made with ``prometheus``)."""
    exporter = monitor.exporter
    if exporter is None:
        raise ValueError("the monitor exports no Prometheus metrics (LoopMonitor(prometheus=True))")
    router = APIRouter(tags=["monitor"])

    @router.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text, or OpenMetrics when the Accept header asks.",
                "content": {
                    media_type: {"schema": {"type": "string"}}
                    for media_type in ("text/plain", "application/openmetrics-text")
                },
            }
        },
    )
    async def read_metrics(request: Request) -> Response:
        """Prometheus exposition of the monitor; scraping resets nothing."""
        monitor.refresh_gauges()
        wants_openmetrics = "application/openmetrics-text" in request.headers.get("accept", "")
        render = partial(exporter.render, wants_openmetrics)
        # Multiprocess mode reads every worker's files: keep that disk I/O off the loop.
        body, content_type = (
            await anyio.to_thread.run_sync(render) if exporter.multiprocess else render()
        )
        return Response(body, headers={"content-type": content_type})

    return router
