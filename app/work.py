"""The work itself, written once: every approach in the lab calls these functions.

Everything here is plain, synchronous-or-async Python with no web framework in
sight. The lab's routes differ only in *how* they call it (on the loop, in a
thread, in a process), which is the point: the work never changes, only what it
does to the event loop.

Two knobs make file reads slow, honestly:

* ``delay_ms`` is a *simulated* storage latency, slept inside every blocking
  ``read()`` call of the file object, so each approach pays it exactly where a
  slow disk or network file system would make it wait: on the loop for an
  inline read, in a worker thread for the others.
* ``cold`` flushes the file and asks the kernel to drop it from the page cache
  (``posix_fadvise(DONTNEED)``), so the read really waits on the disk. It has no
  effect on tmpfs, so the reader reports whether the eviction took.

Open files and running producers are counted, so the disconnect tests can prove
that every approach closes what it opened without the garbage collector's help.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar

import anyio
import anyio.to_thread

from app.disconnect import checkpoint

__all__ = [
    "DONE",
    "CpuResult",
    "Done",
    "ReadResult",
    "SlowReader",
    "TokenSource",
    "burn_cpu",
    "collect_tokens",
    "digest",
    "next_item",
    "open_counts",
    "open_sample",
    "produce_tokens",
    "read_chunks",
    "read_sample",
]

T = TypeVar("T")

# How the producer waits for each token: a timer, or a worker thread.
TokenSource = Literal["async", "thread"]


class _Counter:
    """A thread-safe count of things currently open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def add(self, delta: int) -> None:
        with self._lock:
            self._value += delta

    @property
    def value(self) -> int:
        return self._value


_open_files = _Counter()
_running_producers = _Counter()


def open_counts() -> dict[str, int]:
    """Sample files open and producers running right now, in this process."""
    return {"files": _open_files.value, "producers": _running_producers.value}


# --- files -------------------------------------------------------------------


def _evict(fd: int) -> bool | None:
    """Drop the file from the page cache; say whether it is really gone (None: cannot tell)."""
    # Dirty pages cannot be dropped: flush first.
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    # RWF_NOWAIT reads only from the cache: failing to read one byte proves the
    # eviction took. On tmpfs the byte is still there and the read succeeds.
    try:
        os.preadv(fd, [bytearray(1)], 0, os.RWF_NOWAIT)
    except BlockingIOError:
        return True
    except OSError:
        return None  # the file system does not support RWF_NOWAIT
    return False


class SlowReader:
    """A binary file whose every ``read()`` first waits ``delay_ms``: simulated slow storage.

    It is a file object like any other (``anyio.wrap_file`` can wrap it), and it
    counts itself among the open files until it is closed.
    """

    def __init__(self, path: Path, *, delay_ms: int = 0, cold: bool = False) -> None:
        self._file = path.open("rb", buffering=0)
        _open_files.add(1)
        self._closed = False
        self.delay_s = delay_ms / 1000
        self.size = os.fstat(self._file.fileno()).st_size
        self._position = 0
        try:
            self.evicted: bool | None = _evict(self._file.fileno()) if cold else False
        except BaseException:
            self.close()
            raise

    def read(self, size: int = -1) -> bytes:
        checkpoint()  # no new read once the client has left
        if self.delay_s:
            time.sleep(self.delay_s)  # the simulated latency, inside the blocking call
        if size < 0:
            return self._file.read()
        return self._file.read(size)

    def read_chunk(self, chunk_size: int) -> bytes:
        """The next chunk of at most ``chunk_size`` bytes; ``b""`` at the end.

        It stops at the size the file had when opened, so finding the end costs
        no extra (slow) read call.
        """
        remaining = self.size - self._position
        if remaining <= 0:
            return b""
        chunk = self.read(min(chunk_size, remaining))
        # A file cut short while being read ends the stream where it ends.
        self._position = self.size if not chunk else self._position + len(chunk)
        return chunk

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._file.close()
            _open_files.add(-1)

    def __enter__(self) -> SlowReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_sample(path: Path, *, delay_ms: int = 0, cold: bool = False) -> SlowReader:
    """Open a sample file for slow reading (blocking: opening may evict the cache)."""
    return SlowReader(path, delay_ms=delay_ms, cold=cold)


@dataclass(frozen=True)
class ReadResult:
    bytes: int
    sha256: str
    evicted: bool | None


def digest(data: bytes, evicted: bool | None) -> ReadResult:
    """Summarize what was read: its size and checksum, and whether the cache was evicted."""
    return ReadResult(bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), evicted=evicted)


def read_sample(path: Path, *, delay_ms: int = 0, cold: bool = False) -> ReadResult:
    """Read a whole sample file in one blocking read call."""
    with open_sample(path, delay_ms=delay_ms, cold=cold) as reader:
        return digest(reader.read(), reader.evicted)


def read_chunks(
    path: Path, *, chunk_size: int, delay_ms: int = 0, cold: bool = False
) -> Generator[bytes]:
    """Yield the file in ``chunk_size`` pieces, one blocking read call each; close it at the end."""
    with open_sample(path, delay_ms=delay_ms, cold=cold) as reader:
        while chunk := reader.read_chunk(chunk_size):
            yield chunk


# --- an async producer ----------------------------------------------------------


def _wait_blocking(seconds: float) -> None:
    time.sleep(seconds)  # stands in for a sync client's blocking call


async def produce_tokens(
    items: int, item_delay_ms: int, *, source: TokenSource = "async"
) -> AsyncGenerator[str]:
    """Yield ``items`` tokens, waiting ``item_delay_ms`` before each: like an LLM streaming.

    ``source="async"`` awaits a timer (an async client); ``source="thread"`` waits
    in a worker thread (an async wrapper around a sync client), so each token
    needs a thread token.
    """
    _running_producers.add(1)
    try:
        for index in range(items):
            checkpoint()
            if source == "thread":
                await anyio.to_thread.run_sync(_wait_blocking, item_delay_ms / 1000)
            else:
                await anyio.sleep(item_delay_ms / 1000)
            yield f"token-{index} "
    finally:
        _running_producers.add(-1)


async def collect_tokens(
    items: int, item_delay_ms: int, *, source: TokenSource = "async"
) -> list[str]:
    """Every token of the producer, in order."""
    producer = produce_tokens(items, item_delay_ms, source=source)
    try:
        return [token async for token in producer]
    finally:
        await producer.aclose()


class Done:
    """The type of ``DONE``: what :func:`next_item` returns at the end."""


DONE = Done()


async def next_item(iterator: AsyncIterator[T]) -> T | Done:
    """The iterator's next item, or ``DONE``: a coroutine, so ``syncify`` can run it."""
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        return DONE


# --- pure-Python CPU work -------------------------------------------------------

_MASK = (1 << 64) - 1
# A fixed shuffle of 30 000 integers: sorting it is one built-in call of ~8 ms.
_DECK = sorted(range(30_000), key=lambda i: (i * 2654435761) % 10_007)


@dataclass(frozen=True)
class CpuResult:
    digest: str
    rounds: int
    cpu_ms: float


def _round(state: int) -> int:
    # Bytecode (the interpreter may switch threads every 5 ms) ...
    for _ in range(200):
        state = (state * 6364136223846793005 + 1442695040888963407) & _MASK
        state ^= state >> 29
    # ... and a built-in call, which holds the GIL until it returns, as JSON
    # encoding, parsing, sorting or a regex over a large text do in real handlers.
    ordered = sorted(_DECK, key=state.__xor__)
    return state ^ ordered[0] ^ ordered[-1]


def burn_cpu(cpu_ms: int) -> CpuResult:
    """Compute in Python until this thread has used ``cpu_ms`` of CPU time.

    Each round mixes interpreted bytecode with a built-in call of several
    milliseconds that holds the GIL throughout, the mix that real CPU-bound
    handlers have; a thread running it starves the event loop's thread of the
    GIL, which is why threads do not help with CPU work.

    ``time.thread_time`` counts only this thread, so the work is the same
    whether it runs alone, beside other threads, or in another process
    (``process_time`` would count every thread and end early under concurrency).
    """
    start = time.thread_time()
    deadline = start + cpu_ms / 1000
    state = 0x9E3779B97F4A7C15
    rounds = 0
    while time.thread_time() < deadline:
        checkpoint()  # between rounds: a flag, not an await, so inline work stays inline
        state = _round(state)
        rounds += 1
    return CpuResult(
        digest=f"{state:016x}", rounds=rounds, cpu_ms=(time.thread_time() - start) * 1000
    )
