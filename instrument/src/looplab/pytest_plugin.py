"""pytest plugin for looplab, registered through the ``pytest11`` entry point.

It provides the ``loop_monitor`` fixture: the lag of the test's event loop,
measured for the whole test (live while it runs), for async tests run by AnyIO's
pytest plugin (``@pytest.mark.anyio``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from looplab.testing import LagMeasurement, measure_lag

__all__ = ["loop_monitor"]


@pytest.fixture
async def loop_monitor(anyio_backend: object) -> AsyncIterator[LagMeasurement]:
    """The test's event-loop lag: ``max_ms``, ``p99_ms``, ``stalls``, ``worst_stall``..."""
    # Asking for anyio_backend makes AnyIO's plugin run this fixture on the test's loop.
    async with measure_lag() as measurement:
        yield measurement
