"""Fixtures for the lab's routes: the app on the session's data directory, clients."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

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
    """An in-process client: the app runs in the test's own event loop."""
    transport = httpx.ASGITransport(app=lab_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab", timeout=60) as client:
        yield client
