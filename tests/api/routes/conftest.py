"""Fixtures for the lab's routes: the app on the session's data directory, clients."""

import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import anyio
import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message

from app.core.config import Settings, get_settings
from app.main import create_app


def app_on(data_dir: Path) -> FastAPI:
    """The lab app, reading its samples from ``data_dir``."""
    app = create_app()
    settings = Settings(data_dir=data_dir)
    app.dependency_overrides[get_settings] = lambda: settings
    return app


@pytest.fixture
def lab_app(data_dir: Path) -> FastAPI:
    return app_on(data_dir)


@pytest.fixture
async def lab_client(lab_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client: the app runs, lifespan and all, in the test's own event loop."""
    # httpx's ASGITransport sends no lifespan events: run it here, so what the app makes
    # at startup (the read family's executor, say) exists as it does under uvicorn.
    transport = httpx.ASGITransport(app=lab_app)
    async with (
        lab_app.router.lifespan_context(lab_app),
        httpx.AsyncClient(transport=transport, base_url="http://lab", timeout=60) as client,
    ):
        yield client


async def disconnect_midway(
    app: ASGIApp, path: str, query: dict[str, int], after_s: float
) -> float:
    """One request whose client hangs up after ``after_s``: the seconds the app took to end it."""
    gone = anyio.Event()
    requested = False
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(query).encode(),
        "root_path": "",
        "headers": [(b"host", b"lab")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    async def leave() -> None:
        await anyio.sleep(after_s)
        gone.set()

    async with anyio.create_task_group() as group:
        group.start_soon(leave)
        started = time.perf_counter()
        await app(scope, receive, send)
        return time.perf_counter() - started
