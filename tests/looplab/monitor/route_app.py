"""An app whose blocking calls sit where the endpoint is not on the stack.

Each ``/in-*`` route blocks the loop ``BLOCK_S`` once, somewhere other than its
endpoint function: a dependency, a stream body, a background task, a task the
handler starts, a middleware, a mounted sub-app. A stall must still name the route.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from looplab.monitor import instrument

BLOCK_S = 0.15

app = FastAPI()
sub_app = FastAPI()
_background: set[asyncio.Task[None]] = set()


def block() -> None:
    time.sleep(BLOCK_S)  # the block under test, called from async code


async def blocking_dependency() -> int:
    block()
    return 1


@app.get("/in-dependency/{item_id}")
async def in_dependency(item_id: int, _: Annotated[int, Depends(blocking_dependency)]) -> int:
    return item_id


async def _body() -> AsyncIterator[bytes]:
    yield b"first\n"
    block()
    yield b"second\n"


@app.get("/in-stream")
async def in_stream() -> StreamingResponse:
    return StreamingResponse(_body(), media_type="text/plain")


async def _blocking_later() -> None:
    block()


@app.get("/in-background")
async def in_background(tasks: BackgroundTasks) -> dict[str, bool]:
    tasks.add_task(_blocking_later)
    return {"queued": True}


@app.get("/in-task")
async def in_task() -> dict[str, bool]:
    # A task that outlives the request: it still blocks on the request's behalf.
    task = asyncio.create_task(_blocking_later())
    _background.add(task)
    task.add_done_callback(_background.discard)
    return {"started": True}


@app.get("/in-middleware")
async def in_middleware() -> dict[str, bool]:
    return {"ok": True}


@app.middleware("http")
async def blocking_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    # BaseHTTPMiddleware runs the app in a child task; the block here is before routing.
    if request.url.path == "/in-middleware":
        block()
    return await call_next(request)


@sub_app.get("/in-mounted/{name}")
async def in_mounted(name: str) -> str:
    block()
    return name


@app.get("/await-slowly")
async def await_slowly(seconds: float = 2.0) -> dict[str, bool]:
    """Holds a request in flight without holding the loop."""
    await asyncio.sleep(seconds)
    return {"done": True}


@app.get("/in-endpoint")
async def in_endpoint() -> dict[str, bool]:
    block()
    return {"ok": True}


class LateBlocker:
    """Pure ASGI middleware added after ``instrument()``: the tracker must still wrap it."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] == "http" and scope["path"] == "/in-late-middleware":
            block()
        await self.app(scope, receive, send)


app.mount("/sub", sub_app)
instrument(app, stall_threshold_ms=50)
app.add_middleware(LateBlocker)
