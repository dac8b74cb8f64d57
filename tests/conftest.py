from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.samples import ensure_default_samples


@pytest.fixture
def anyio_backend() -> str:
    # looplab measures asyncio's event loop; trio, if installed, is not the subject.
    return "asyncio"


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the default samples, written once per test session."""
    directory = tmp_path_factory.mktemp("looplab-data")
    ensure_default_samples(directory)
    return directory
