"""The ``stream`` family: stream a sample file in ``chunk_size`` chunks, in four approaches.

The work is ``app.work.read_chunks`` (and the ``SlowReader`` it opens): one
blocking ``read()`` per chunk, each slowed by ``delay_ms`` inside the call. Every
response is ``application/octet-stream`` with the file's ``content-length``, and
every approach closes its file promptly when a client disconnects mid-stream.
"""

from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from contextlib import closing

import anyio
from asyncer import asyncify
from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.api.catalogued import catalogued
from app.api.params import ChunkSize, ReadOptions, Sample, SampleFile
from app.catalogue import CHUNK_SIZE
from app.streaming import ClosingStreamingResponse, iterate_in_threadpool_closing
from app.work import open_sample, read_chunks

__all__ = ["OctetFileResponse", "OctetStreamResponse", "router"]

router = APIRouter(prefix="/lab/stream", tags=["stream"])


class OctetStreamResponse(ClosingStreamingResponse):
    media_type = "application/octet-stream"


class OctetFileResponse(FileResponse):
    # Bytes as they are, whatever the file's name suggests (and so the docs say).
    media_type = "application/octet-stream"


def _stream(sample: Sample, chunks: AsyncIterable[bytes] | Iterable[bytes]) -> OctetStreamResponse:
    # The size is known up front: say it, like FileResponse does.
    return OctetStreamResponse(chunks, headers={"content-length": str(sample.size)})


# 🚨 Don't use this: an async generator doing blocking reads stalls the loop for every chunk.
@router.get("/inline", response_class=OctetStreamResponse, **catalogued("stream.inline"))
async def stream_inline(
    read: ReadOptions, chunk_size: ChunkSize = CHUNK_SIZE.default
) -> OctetStreamResponse:

    async def chunks() -> AsyncGenerator[bytes]:
        reads = read_chunks(
            read.sample.path, chunk_size=chunk_size, delay_ms=read.delay_ms, cold=read.cold
        )
        with closing(reads):
            for chunk in reads:
                yield chunk

    return _stream(read.sample, chunks())


# ✅ A def generator iterated in the thread pool, and closed (in a thread) when the response ends.
@router.get("/threadpool", response_class=OctetStreamResponse, **catalogued("stream.threadpool"))
def stream_threadpool(
    read: ReadOptions, chunk_size: ChunkSize = CHUNK_SIZE.default
) -> OctetStreamResponse:
    reads = read_chunks(
        read.sample.path, chunk_size=chunk_size, delay_ms=read.delay_ms, cold=read.cold
    )
    return _stream(read.sample, iterate_in_threadpool_closing(reads))


# ✅ An async generator that awaits each blocking call (open, read, close) in a worker thread.
@router.get("/asyncify", response_class=OctetStreamResponse, **catalogued("stream.asyncify"))
async def stream_asyncify(
    read: ReadOptions, chunk_size: ChunkSize = CHUNK_SIZE.default
) -> OctetStreamResponse:

    async def chunks() -> AsyncGenerator[bytes]:
        reader = await asyncify(open_sample)(
            read.sample.path, delay_ms=read.delay_ms, cold=read.cold
        )
        try:
            while chunk := await asyncify(reader.read_chunk)(chunk_size):
                yield chunk
        finally:
            # A disconnect cancels the stream: close the file anyway, in a thread.
            with anyio.CancelScope(shield=True):
                await asyncify(reader.close)()

    return _stream(read.sample, chunks())


# ✅ The baseline: Starlette's FileResponse reads in the thread pool, 64 KiB per hop.
@router.get("/fileresponse", response_class=OctetFileResponse, **catalogued("stream.fileresponse"))
async def stream_fileresponse(sample: SampleFile) -> OctetFileResponse:
    return OctetFileResponse(sample.path)
