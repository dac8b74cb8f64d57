"""The ``read`` family: read a whole sample file, in every bridge people use.

The work is ``app.work.read_sample``: open, one blocking ``read()`` (slowed by
``delay_ms`` inside the call, or made to wait on the disk by ``cold``), hash.
Three pools carry it off the loop: AnyIO's thread limiter (``def`` routes,
``asyncify``, AnyIO files), the loop's default executor (``asyncio.to_thread``,
``run_in_executor(None, ...)``, aiofiles) and an executor of the app's own.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, BinaryIO, cast

import aiofiles.threadpool
import anyio
import anyio.to_thread
from aiofiles.threadpool.binary import AsyncFileIO
from asyncer import asyncify
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from app.api.catalogued import catalogued
from app.api.params import ReadOptions, ReadQuery
from app.work import ReadResult, SlowReader, digest, open_sample, read_sample

__all__ = ["EXECUTOR_WORKERS", "ReadResponse", "router"]

# read.executor's own pool: small on purpose, so a load of 64 shows it queueing.
EXECUTOR_WORKERS = 8
_executor: ThreadPoolExecutor | None = None


def _own_pool() -> ThreadPoolExecutor:
    # Made at startup; an app driven without its lifespan (some tests) makes it on first
    # use. Never the default executor: that would be another approach.
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(EXECUTOR_WORKERS, thread_name_prefix="lab-read")
    return _executor


@asynccontextmanager
async def _own_executor(_app: FastAPI) -> AsyncIterator[None]:
    # The app owns this pool: made at startup, and at shutdown told to drop what is
    # queued without waiting for it (wait=False), so the loop is never held.
    global _executor
    pool = _own_pool()
    try:
        yield
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        _executor = None


router = APIRouter(prefix="/lab/read", tags=["read"], lifespan=_own_executor)


# aiofiles wraps only the file classes it knows; the lab's slow reader is a raw binary
# file like FileIO, so it gets the same wrapper and its delay happens in aiofiles' thread.
@aiofiles.threadpool.wrap.register(SlowReader)
def _wrap_slow_reader(file: SlowReader, *, loop: Any = None, executor: Any = None) -> AsyncFileIO:
    return AsyncFileIO(cast(BinaryIO, file), loop=loop, executor=executor)


class ReadResponse(BaseModel):
    file: str
    bytes: int
    sha256: str
    elapsed_ms: float
    # Whether the page cache really lost the file (null: the file system cannot say).
    evicted: bool | None
    # The storage latency added on purpose: a simulation, not the disk.
    simulated_delay_ms: int


def _respond(read: ReadQuery, result: ReadResult, started: float) -> ReadResponse:
    return ReadResponse(
        file=read.sample.name,
        bytes=result.bytes,
        sha256=result.sha256,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        evicted=result.evicted,
        simulated_delay_ms=read.delay_ms,
    )


# 🚨 Don't use this: the blocking read runs on the event loop and stalls every request.
@router.get("/inline", **catalogued("read.inline"))
async def read_inline(read: ReadOptions) -> ReadResponse:
    started = time.perf_counter()
    result = read_sample(read.sample.path, delay_ms=read.delay_ms, cold=read.cold)
    return _respond(read, result, started)


# ✅ A def route: FastAPI calls it in the thread pool, so the read waits in a worker thread.
@router.get("/threadpool", **catalogued("read.threadpool"))
def read_threadpool(read: ReadOptions) -> ReadResponse:
    started = time.perf_counter()
    result = read_sample(read.sample.path, delay_ms=read.delay_ms, cold=read.cold)
    return _respond(read, result, started)


# ✅ asyncify: the route stays async def; the blocking read is awaited in a worker thread.
@router.get("/asyncify", **catalogued("read.asyncify"))
async def read_asyncify(read: ReadOptions) -> ReadResponse:
    started = time.perf_counter()
    result = await asyncify(read_sample)(read.sample.path, delay_ms=read.delay_ms, cold=read.cold)
    return _respond(read, result, started)


# ✅ AnyIO's async file API: opening, reading and closing are each awaited in a worker thread.
@router.get("/anyio", **catalogued("read.anyio"))
async def read_anyio(read: ReadOptions) -> ReadResponse:
    started = time.perf_counter()
    opener = partial(open_sample, read.sample.path, delay_ms=read.delay_ms, cold=read.cold)
    reader = await anyio.to_thread.run_sync(opener)
    # AsyncFile only calls read() and close(), which the slow reader has.
    async with anyio.wrap_file(cast(BinaryIO, reader)) as file:
        data = await file.read()
    # Hashing a large file is work too: not on the loop.
    result = await anyio.to_thread.run_sync(digest, data, reader.evicted)
    return _respond(read, result, started)


# ✅ asyncio.to_thread: the read waits in a thread of the loop's default executor,
# which is not AnyIO's pool: min(32, cpus + 4) workers, 6 on two cores.
@router.get("/to-thread", **catalogued("read.to-thread"))
async def read_to_thread(read: ReadOptions) -> ReadResponse:
    started = time.perf_counter()
    result = await asyncio.to_thread(
        read_sample, read.sample.path, delay_ms=read.delay_ms, cold=read.cold
    )
    return _respond(read, result, started)


# ✅ run_in_executor with an executor the app owns (8 workers), made and shut down in
# the router's lifespan: a pool sized for this work, apart from every other pool.
@router.get("/executor", **catalogued("read.executor"))
async def read_executor(read: ReadOptions) -> ReadResponse:
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    work = partial(read_sample, read.sample.path, delay_ms=read.delay_ms, cold=read.cold)
    result = await loop.run_in_executor(_own_pool(), work)
    return _respond(read, result, started)


# ✅ aiofiles: every file call is awaited in the loop's default executor, like to_thread.
@router.get("/aiofiles", **catalogued("read.aiofiles"))
async def read_aiofiles(read: ReadOptions) -> ReadResponse:
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    opener = partial(open_sample, read.sample.path, delay_ms=read.delay_ms, cold=read.cold)
    # What aiofiles.open does, with the lab's slow file in place of open(). The executor's
    # thread cannot be cancelled: a client that leaves mid-open must not leak the file.
    with anyio.CancelScope(shield=True):
        reader = await loop.run_in_executor(None, opener)
    file = aiofiles.threadpool.wrap(reader, loop=loop)
    try:
        data = await file.read()
    finally:
        # A cancelled request cancels every await: the close is shielded, or it never runs.
        with anyio.CancelScope(shield=True):
            await file.close()
    result = await loop.run_in_executor(None, digest, data, reader.evicted)
    return _respond(read, result, started)
