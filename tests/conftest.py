import pytest


@pytest.fixture
def anyio_backend() -> str:
    # looplab measures asyncio's event loop; trio, if installed, is not the subject.
    return "asyncio"
