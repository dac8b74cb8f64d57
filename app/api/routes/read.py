"""The ``read`` family: read a whole sample file, in four approaches.

The work is ``app.work.read_sample``: open, one blocking ``read()`` (slowed by
``delay_ms`` inside the call, or made to wait on the disk by ``cold``), hash.
"""

import time
from functools import partial
from typing import BinaryIO, cast

import anyio
import anyio.to_thread
from asyncer import asyncify
from fastapi import APIRouter
from pydantic import BaseModel

from app.api.catalogued import catalogued
from app.api.params import ReadOptions, ReadQuery
from app.work import ReadResult, digest, open_sample, read_sample

__all__ = ["ReadResponse", "router"]

router = APIRouter(prefix="/lab/read", tags=["read"])


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
