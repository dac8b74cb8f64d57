"""Builds the looplab demo app: ``uvicorn app.main:app`` or ``looplab serve``."""

from fastapi import FastAPI

from app.api.main import api_router


def create_app() -> FastAPI:
    """Create the lab app with every router mounted."""
    app = FastAPI(
        title="looplab",
        summary="The same work in every sync/async bridging style, side by side.",
    )
    app.include_router(api_router)
    return app


app = create_app()
