"""Builds the looplab demo app: ``uvicorn app.main:app`` or ``looplab serve``."""

from fastapi import FastAPI

from app.api.main import api_router
from looplab.monitor import instrument


def create_app() -> FastAPI:
    """Create the lab app with every router mounted."""
    app = FastAPI(
        title="looplab",
        summary="The same work in every sync/async bridging style, side by side.",
    )
    app.include_router(api_router)
    # /ping always; /monitor, /monitor/stream, /metrics unless LOOPLAB_MONITOR=0;
    # LOOPLAB_THREAD_TOKENS sizes the thread pool at startup. Mounted at the root.
    instrument(app)
    return app


app = create_app()
