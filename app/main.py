"""Builds the looplab demo app: ``uvicorn app.main:app`` or ``looplab serve``."""

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from app.api.main import api_router
from app.catalogue import DELAY_MS
from app.disconnect import Disconnected, StopOnDisconnect, client_gone
from app.work import open_counts
from looplab.monitor import LoopMonitor, instrument

logger = logging.getLogger("uvicorn.error")

# The longest call nothing can interrupt: one simulated read of the largest delay_ms.
LONGEST_CALL_S = DELAY_MS.max / 1000


async def _released(timeout_s: float) -> dict[str, int]:
    # By the time the lifespan ends, uvicorn has cancelled what was still running
    # (after its graceful-shutdown timeout); a worker thread inside one blocking read
    # lets go of its file when that read returns. Wait for it, within the bound.
    deadline = time.monotonic() + timeout_s
    counts = open_counts()
    while any(counts.values()) and time.monotonic() < deadline:
        await anyio.sleep(0.05)
        counts = open_counts()
    return counts


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Everything made at startup (modules, routes, the catalogue: ~75k objects)
    # lives as long as the process. Freezing it takes it out of the collector's
    # full passes, which otherwise hold the loop ~50 ms each: at ~1,700 req/s that
    # lag, not the approach, would decide the cheap endpoints' figures.
    gc.collect()
    gc.freeze()
    monitor: LoopMonitor | None = app.state.monitor
    if monitor is not None:
        # The collection above stalls the loop (a "(startup)" stall in /metrics); the
        # windows a user reads open after it, on the warmed-up app.
        monitor.reset_windows()
    yield
    gc.unfreeze()
    counts = await _released(LONGEST_CALL_S + 1)
    logger.info(
        "looplab: shut down with %d open sample files and %d running producers",
        counts["files"],
        counts["producers"],
    )


def create_app() -> FastAPI:
    """Create the lab app with every router mounted."""
    app = FastAPI(
        title="looplab",
        summary="The same work in every sync/async bridging approach, side by side.",
        lifespan=lifespan,
    )
    app.include_router(api_router)
    # A lab request whose client leaves stops at its next checkpoint (app/disconnect.py).
    app.add_middleware(StopOnDisconnect, prefix="/lab/")
    app.add_exception_handler(Disconnected, client_gone)
    # /ping always; /monitor, /monitor/stream, /metrics unless LOOPLAB_MONITOR=0;
    # LOOPLAB_THREAD_TOKENS sizes the thread pool at startup. Mounted at the root.
    app.state.monitor = instrument(app)
    return app


app = create_app()
