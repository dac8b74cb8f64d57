"""Builds the looplab demo app: ``uvicorn app.main:app`` or ``looplab serve``."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.main import api_router
from looplab.monitor import instrument


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Everything made at startup (modules, routes, the catalogue: ~75k objects)
    # lives as long as the process. Freezing it takes it out of the collector's
    # full passes, which otherwise hold the loop ~50 ms each: at ~1,700 req/s that
    # lag, not the approach, would decide the cheap endpoints' figures.
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def create_app() -> FastAPI:
    """Create the lab app with every router mounted."""
    app = FastAPI(
        title="looplab",
        summary="The same work in every sync/async bridging approach, side by side.",
        lifespan=lifespan,
    )
    app.include_router(api_router)
    # /ping always; /monitor, /monitor/stream, /metrics unless LOOPLAB_MONITOR=0;
    # LOOPLAB_THREAD_TOKENS sizes the thread pool at startup. Mounted at the root.
    instrument(app)
    return app


app = create_app()
