from collections.abc import Iterator

import pytest

from looplab.bench import ServerProcess


@pytest.fixture(scope="module")
def test_server() -> Iterator[ServerProcess]:
    """The bench's small test app (``apps.py``) under a real uvicorn, on its own process."""
    with ServerProcess("tests.looplab.bench.apps:app", ready_path="/ping") as server:
        yield server
