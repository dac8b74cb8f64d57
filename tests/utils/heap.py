"""The test process's own garbage, kept out of what a timing test measures."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen_heap"]


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Collect now and freeze the survivors for the block.

    A full run of the suite imports a large heap (schemathesis, locust, every
    parametrized case); a full collection over it pauses the test's own loop for
    a few hundred ms, which a latency assertion would blame on the server.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
