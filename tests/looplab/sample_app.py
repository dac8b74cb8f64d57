"""A small app of anyone's, instrumented with looplab: one blocking route, its fix, and more."""

import hashlib
import time

from asyncer import asyncify
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from looplab.monitor import instrument

BLOCK_S = 0.2

app = FastAPI()


@app.get("/slow")
async def slow_route() -> dict[str, bool]:
    """Block the loop: a blocking call inside an async route."""
    time.sleep(BLOCK_S)  # noqa: ASYNC251 (the anti-pattern under test)
    return {"slept": True}


@app.get("/fixed")
async def fixed_route() -> dict[str, bool]:
    """The same sleep in a worker thread: the loop stays free."""
    await asyncify(time.sleep)(BLOCK_S)
    return {"slept": True}


@app.get("/chunks", response_class=StreamingResponse)
async def blocking_chunks():  # type: ignore[no-untyped-def]
    """A generator endpoint burning CPU on the loop between chunks."""
    for _ in range(2):
        yield _burn(BLOCK_S / 2).encode()


def _burn(seconds: float) -> str:
    deadline = time.perf_counter() + seconds
    digest = b""
    while time.perf_counter() < deadline:
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


@app.get("/threadwork")
def thread_work(seconds: float = 0.3) -> dict[str, bool]:
    """A ``def`` route: runs in AnyIO's thread pool and borrows a token while it sleeps."""
    time.sleep(seconds)
    return {"slept": True}


monitor = instrument(app)


def line_of(function: object, needle: str) -> int:
    """The line number of the first line of ``function`` containing ``needle``."""
    import inspect

    lines, start = inspect.getsourcelines(function)  # type: ignore[arg-type]
    return start + next(i for i, line in enumerate(lines) if needle in line)
