"""The catalogue: every endpoint of the lab, its approach, what it should do to the loop, and why.

This is the one list. ``GET /lab`` serves it; the routes take their OpenAPI
``summary`` and ``description`` from it; the tests, the bench, the locustfile and
the README's table read it (over HTTP or from here). Each :class:`Family` states
once what its approaches share (parameters, the workload that gives one request
its cost, a long workload for disconnect tests); an entry states only how it
differs. Adding an approach means its route and one ``family.entry(...)`` here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import get_args

from app.samples import DEFAULT_SIZES, KiB, MiB, sample_name
from app.work import TokenSource
from looplab.protocol import CatalogueEntry, ParamSpec, QueryValue, Verdict

__all__ = [
    "CATALOGUE",
    "CHUNK_SIZE",
    "COLD",
    "CPU_MS",
    "DELAY_MS",
    "FAMILIES",
    "FILE",
    "ITEMS",
    "ITEM_DELAY_MS",
    "QUERY_MS",
    "SOURCE",
    "UPSTREAM_MS",
    "ChoiceParam",
    "Family",
    "FlagParam",
    "NumberParam",
    "Param",
    "approaches_table",
    "by_id",
    "family_of",
    "long_workload",
]


@dataclass(frozen=True)
class NumberParam:
    """An integer query parameter with inclusive bounds."""

    default: int
    min: int
    max: int
    description: str

    def spec(self) -> ParamSpec:
        return ParamSpec(default=self.default, min=self.min, max=self.max)


@dataclass(frozen=True)
class ChoiceParam:
    """A string query parameter with a set of values."""

    default: str
    choices: tuple[str, ...]
    description: str

    def spec(self) -> ParamSpec:
        return ParamSpec(default=self.default, choices=list(self.choices))


@dataclass(frozen=True)
class FlagParam:
    """A boolean query parameter."""

    default: bool
    description: str

    def spec(self) -> ParamSpec:
        return ParamSpec(default=self.default, choices=[False, True])


Param = NumberParam | ChoiceParam | FlagParam

FILE = ChoiceParam(
    default=sample_name(MiB),
    choices=tuple(sample_name(size) for size in DEFAULT_SIZES),
    description="A plain file name in the data directory (see /lab/files); the samples are listed.",
)
DELAY_MS = NumberParam(
    default=0,
    min=0,
    max=10_000,
    description="Simulated storage latency, paid inside every blocking read call (ms).",
)
COLD = FlagParam(
    default=False,
    description="Evict the file from the page cache first, so the read waits on the disk.",
)
CHUNK_SIZE = NumberParam(
    default=64 * KiB, min=1 * KiB, max=8 * MiB, description="Bytes per read call and chunk."
)
ITEMS = NumberParam(default=10, min=1, max=100_000, description="Tokens the producer yields.")
ITEM_DELAY_MS = NumberParam(
    default=30, min=0, max=10_000, description="Wait before each token (ms)."
)
SOURCE = ChoiceParam(
    default="async",
    choices=get_args(TokenSource),
    description=(
        "How the producer waits: 'async' awaits a timer (an async client); "
        "'thread' waits in a worker thread (an async wrapper around a sync client)."
    ),
)
CPU_MS = NumberParam(
    default=100, min=0, max=10_000, description="Thread CPU time to burn (ms, time.thread_time)."
)


# A family's cost formula: the injected cost (ms of waiting or work) of one request,
# from its query (every parameter of the entry, defaults filled in) and the size in
# bytes of the file it names (0 for a family without files).
CostFormula = Callable[[Mapping[str, QueryValue], int], float]


def _no_cost(query: Mapping[str, QueryValue], size: int) -> float:
    return 0.0


def _number(query: Mapping[str, QueryValue], name: str) -> int:
    # An entry without the parameter (FileResponse takes no delay) adds nothing.
    value = query.get(name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


_SAMPLE_SIZES = {sample_name(size): size for size in DEFAULT_SIZES}


@dataclass(frozen=True)
class Family:
    """One piece of work, and what every approach to it shares."""

    name: str
    params: Mapping[str, Param] = field(default_factory=dict)
    # The query of one request with a substantial cost.
    workload: Mapping[str, QueryValue] = field(default_factory=dict)
    # What a request's query costs; the budget (LOOPLAB_COST_BUDGET_MS) caps it.
    cost: CostFormula = _no_cost
    # A request that runs for many seconds: the disconnect tests end it part-way.
    long_workload: Mapping[str, QueryValue] = field(default_factory=dict)
    # Where the approaches are served: /lab/<name>/<approach> unless given.
    prefix: str = ""
    lesson: str = ""

    def entry(
        self,
        approach: str,
        *,
        summary: str,
        expect: Verdict = "responsive",
        lesson: str | None = None,
        antipattern: bool = False,
        params: Mapping[str, Param] | None = None,
        workload: Mapping[str, QueryValue] | None = None,
    ) -> CatalogueEntry:
        """An approach to this family's work; what it does not give, the family gives.

        Its ``cost_ms`` is the family's cost formula applied to its workload.
        """
        chosen = self.params if params is None else params
        load = dict(self.workload if workload is None else workload)
        full = {name: load.get(name, param.default) for name, param in chosen.items()}
        size = _SAMPLE_SIZES.get(str(full.get("file", "")), 0)
        return CatalogueEntry(
            id=f"{self.name}.{approach}",
            family=self.name,
            approach=approach,
            path=f"{self.prefix or '/lab/' + self.name}/{approach}",
            expect=expect,
            antipattern=antipattern,
            summary=summary,
            lesson=self.lesson if lesson is None else lesson,
            params={name: param.spec() for name, param in chosen.items()},
            workload=load,
            cost_ms=self.cost(full, size),
        )


_READ_PARAMS: Mapping[str, Param] = {"file": FILE, "delay_ms": DELAY_MS, "cold": COLD}
_PRODUCE_PARAMS: Mapping[str, Param] = {
    "items": ITEMS,
    "item_delay_ms": ITEM_DELAY_MS,
    "source": SOURCE,
}
# 20 ms per chunk or token, 20 s in all (within the default cost budget): the
# disconnect tests abort these part-way.
_LONG_DELAY_MS = 20

READ = Family(
    "read",
    params=_READ_PARAMS,
    workload={"file": sample_name(MiB), "delay_ms": 300},
    # One call nothing can interrupt: the disconnect tests wait for it to return.
    long_workload={"file": sample_name(MiB), "delay_ms": 6_000},
    # One blocking read() call per request, slowed by delay_ms inside it.
    cost=lambda query, size: _number(query, "delay_ms"),
)
STREAM = Family(
    "stream",
    params={**_READ_PARAMS, "chunk_size": CHUNK_SIZE},
    # One 300 ms read per request, like the read family's. The verdict compares the
    # loop's worst stall with a request's cost, and a stream yields to the loop between
    # chunks: cut into two 150 ms reads, an inline stream alone would stall for half
    # its cost at a time and could not be told from a degrading one.
    workload={"file": sample_name(MiB), "chunk_size": MiB, "delay_ms": 300},
    # One slowed read() per chunk of the real file.
    cost=lambda query, size: (
        math.ceil(size / max(_number(query, "chunk_size"), 1)) * _number(query, "delay_ms")
    ),
    long_workload={
        "file": sample_name(64 * MiB),
        "chunk_size": 64 * KiB,
        "delay_ms": _LONG_DELAY_MS,
    },
)


def _tokens_cost(query: Mapping[str, QueryValue], size: int) -> float:
    return _number(query, "items") * _number(query, "item_delay_ms")


# Ten tokens 30 ms apart: the same 300 ms whether collected or streamed.
_TOKENS_WORKLOAD: Mapping[str, QueryValue] = {"items": 10, "item_delay_ms": 30}

_LONG_TOKENS: Mapping[str, QueryValue] = {"items": 1_000, "item_delay_ms": _LONG_DELAY_MS}

PRODUCE = Family(
    "produce",
    params=_PRODUCE_PARAMS,
    workload=_TOKENS_WORKLOAD,
    cost=_tokens_cost,
    long_workload=_LONG_TOKENS,
)
PRODUCE_STREAM = Family(
    "produce-stream",
    params=_PRODUCE_PARAMS,
    workload=_TOKENS_WORKLOAD,
    cost=_tokens_cost,
    long_workload=_LONG_TOKENS,
)
CPU = Family(
    "cpu",
    params={"cpu_ms": CPU_MS},
    workload={"cpu_ms": 300},
    cost=lambda query, size: _number(query, "cpu_ms"),
    # Rounds of ~10 ms: the work checks the stop flag between them.
    long_workload={"cpu_ms": 6_000},
)

_STORY_LESSON = (
    "FastAPI's Stream Data example: the story, one line per chunk, no content-type. "
    "An async generator yields on the loop; a def generator is iterated in the thread "
    "pool, one hop per line. The annotation is for editors only."
)
_IMAGE_LESSON = (
    "FastAPI's Stream Data example: a PNG streamed by a StreamingResponse subclass that "
    "sets the media type. The image is a few KiB, so its blocking reads are cheaper than a "
    "thread hop: fine even from an async generator."
)

STORY = Family("story", prefix="/story", lesson=_STORY_LESSON)
IMAGE = Family("image", prefix="/image", lesson=_IMAGE_LESSON)


# --- Blocking calls that real apps make (issue 12) ---------------------------------

UPSTREAM_MS = NumberParam(
    default=0,
    min=0,
    max=10_000,
    description="How long the upstream HTTP service waits before it answers (ms).",
)
QUERY_MS = NumberParam(
    default=100,
    min=0,
    max=10_000,
    description=(
        "How long the sqlite query runs (ms): steps of a recursive walk, at the rate "
        "the lab measured at startup."
    ),
)

HTTP = Family(
    "http",
    params={"upstream_ms": UPSTREAM_MS},
    workload={"upstream_ms": 300},
    # One round trip to the lab's upstream service, which answers after upstream_ms.
    cost=lambda query, size: _number(query, "upstream_ms"),
)
DB = Family(
    "db",
    params={"query_ms": QUERY_MS},
    workload={"query_ms": 300},
    # One query, calibrated at startup to take query_ms (each answer reports its real time).
    cost=lambda query, size: _number(query, "query_ms"),
    # SQLite stops it part-way: a progress handler, or Connection.interrupt().
    long_workload={"query_ms": 10_000},
)

_CALLS: tuple[CatalogueEntry, ...] = (
    HTTP.entry(
        "requests",
        expect="blocks",
        antipattern=True,
        summary="An async def route calls requests.get: the loop waits for the upstream.",
        lesson="`requests` is a blocking client: called from an `async def` route it holds the "
        "event loop for the whole round trip (here the upstream's `upstream_ms`), and every "
        "other request waits. Nothing in the code looks slow. Nor can it be stopped: a client "
        "that leaves changes nothing until the upstream answers. Make the route `def`, or use "
        "an async client.",
    ),
    HTTP.entry(
        "requests-threadpool",
        expect="responsive",
        summary="A def route: the same requests.get waits in a worker thread.",
        lesson="A `def` route runs in AnyIO's thread pool, so `requests.get` waits in a worker "
        "thread and the loop keeps serving. Each request holds one of the 40 thread tokens for "
        "its whole round trip: beyond 40 at once, requests queue for a token. A blocking call "
        "cannot be cancelled: when the client leaves, the thread still waits for the "
        "upstream's answer, and only then is it free.",
    ),
    HTTP.entry(
        "httpx-async",
        expect="responsive",
        summary="A shared httpx.AsyncClient with a 4-connection pool: the route awaits the answer.",
        lesson="An async client awaits the socket: the loop serves others meanwhile, no thread "
        "is used, and a client that leaves cancels the call at once. One `httpx.AsyncClient`, "
        "made in the lifespan and shared, keeps its connections alive between requests. Its "
        "pool is the limit to know, deliberately small here: 4 connections, 1 s pool timeout. "
        "With 300 ms answers 4 connections serve about 13 requests/s, so at concurrency 32 "
        "the other 28 queue for a connection (measured in-process: 2.8 s at the median, 4.2 s "
        "at worst), invisible in the loop lag. And none fails: httpcore 1.0.9 restarts a "
        "request's pool timeout whenever it wakes for a connection that another request then "
        "takes (encode/httpcore#822), so `httpx.PoolTimeout` comes only when no connection "
        "frees for a whole second, e.g. answers slower than 1 s with the pool full. That is "
        "answered as a 503 with `Retry-After`. Size the pool (httpx's default is 100) for "
        "the load, and cap the wait yourself (a semaphore with a timeout) if it must be.",
    ),
    HTTP.entry(
        "httpx-sync-in-async",
        expect="blocks",
        antipattern=True,
        summary="An async def route calls a shared httpx.Client: a sync client blocks the loop.",
        lesson="`httpx.Client` is httpx's synchronous client: the same library and API as the "
        "async one, minus `await`, and it blocks the loop for the whole round trip just like "
        "`requests`. One wrong class name is enough. In `async def`, use `httpx.AsyncClient`.",
    ),
    DB.entry(
        "sqlite-inline",
        expect="blocks",
        antipattern=True,
        summary="An async def route runs a sqlite3 query: the loop waits for SQLite.",
        lesson="The standard library's `sqlite3` is a synchronous driver: a query run from an "
        "`async def` route holds the loop until SQLite returns (here about `query_ms` of "
        "walking a linked chain with a recursive CTE). SQLite releases the GIL while it works, "
        "which helps other threads only: the loop thread is the one waiting. Nothing can stop "
        "it early: the task that would notice the client leaving needs the loop it holds.",
    ),
    DB.entry(
        "sqlite-threadpool",
        expect="responsive",
        summary="A def route borrows a pooled sqlite3 connection: the query runs in a thread.",
        lesson="A `def` route runs in the thread pool and borrows one of a small pool of "
        "connections (made in the lifespan with `check_same_thread=False`, one thread at a "
        "time each). SQLite releases the GIL while it steps, so the loop stays free. The "
        "pool also bounds the CPU work: one connection per core but one (a single one on 2 "
        "cores), so the cores never saturate and the loop's thread always finds one free; "
        "other requests wait for a connection in their threads. A "
        "client that leaves stops its query within milliseconds: SQLite calls a progress "
        "handler every 100,000 instructions of its virtual machine, and the handler checks "
        "the request's stop flag.",
    ),
    DB.entry(
        "aiosqlite",
        expect="responsive",
        summary="aiosqlite: the query runs in its connection's own thread; the route awaits it.",
        lesson="aiosqlite gives every connection a thread of its own (outside AnyIO's 40 "
        "tokens) and runs each call there; the route awaits a future. One connection per "
        "request here, at most one query per core but one at a time (a capacity limiter, as "
        "for the pool of `db.sqlite-threadpool`): one shared "
        "connection would run every query in turn in its single thread. When the client "
        "leaves, the await is cancelled but SQLite would keep walking, so the route calls "
        "`interrupt()` (`sqlite3.Connection.interrupt`, safe from any thread), which ends "
        "the query at once, and then closes the connection.",
    ),
)

FAMILIES: tuple[Family, ...] = (
    READ,
    STREAM,
    PRODUCE,
    PRODUCE_STREAM,
    CPU,
    HTTP,
    DB,
    STORY,
    IMAGE,
)

_LAB: tuple[CatalogueEntry, ...] = (
    READ.entry(
        "inline",
        expect="blocks",
        antipattern=True,
        summary="An async def route calls the blocking read: the loop waits on the disk.",
        lesson="An `async def` route runs on the event loop, so the blocking `read()` it calls "
        "stalls every other request for as long as the storage takes: here the whole "
        "`delay_ms` (or a cold disk read). Nothing in the code looks slow; only the loop "
        "lag shows it. Make the route `def`, or hand the read to a thread.",
    ),
    READ.entry(
        "threadpool",
        expect="responsive",
        summary="A def route: FastAPI runs the same blocking read in the thread pool.",
        lesson="A plain `def` route is called in AnyIO's thread pool, so the blocking read waits "
        "in a worker thread and the loop keeps serving. The pool has 40 tokens by default "
        "(`LOOPLAB_THREAD_TOKENS`): past that, requests queue for a token instead of failing.",
    ),
    READ.entry(
        "asyncify",
        expect="responsive",
        summary="An async def route awaits asyncify(read): the blocking call runs in a thread.",
        lesson="`await asyncify(read_sample)(...)` keeps the route `async def` (to await other "
        "things) while the one blocking call runs in the same thread pool a `def` route uses.",
    ),
    READ.entry(
        "anyio",
        expect="responsive",
        summary="AnyIO's async file API: every file operation is awaited in a worker thread.",
        lesson="`anyio.wrap_file` (like `anyio.open_file`) turns each method call of a file object "
        "into `await to_thread.run_sync(...)`: the read, and the slow storage inside it, "
        "wait in a thread. It is threads underneath, not asynchronous disk I/O.",
    ),
    READ.entry(
        "to-thread",
        expect="responsive",
        summary="asyncio.to_thread(read): the read waits in the loop's default executor.",
        lesson="`await asyncio.to_thread(read_sample, ...)` frees the loop like `asyncify`, but in "
        "another pool: the loop's default `ThreadPoolExecutor`, `min(32, cpus + 4)` workers (6 on "
        "two cores), not AnyIO's 40 tokens. The loop stays responsive at any load; the requests "
        "queue instead. At concurrency 64 with 300 ms reads, 6 workers serve at most 20 "
        "requests/s, so a request waits about 3 s for a worker, invisible in the loop lag. "
        "`run_in_executor(None, ...)` and aiofiles share this same small pool.",
    ),
    READ.entry(
        "executor",
        expect="responsive",
        summary="run_in_executor with the app's own 8-worker executor, shut down in lifespan.",
        lesson="`loop.run_in_executor(executor, ...)` with a `ThreadPoolExecutor` the app owns "
        "(made in the router's lifespan, shut down with `wait=False, cancel_futures=True` so "
        "shutdown never waits on it) sizes the pool for this work alone: 8 workers serve "
        "8 / 0.3 s = 27 reads/s, and a flood of reads cannot take threads from the rest of "
        "the app. Past 8 in flight, reads queue in the executor, not on the loop.",
    ),
    READ.entry(
        "aiofiles",
        expect="responsive",
        summary="aiofiles: each file call is awaited in the loop's default executor.",
        lesson="aiofiles, the most recommended answer to reading a file in `async def`, runs "
        "every call (`open`, `read`, `close`) with `run_in_executor(None, ...)`: threads in "
        "the loop's default executor, the 6 workers `asyncio.to_thread` uses. The loop stays "
        "free, the reads queue for those workers, and each call pays a thread hop. Here the "
        "lab's slow file is registered with aiofiles' `wrap`, so the delay happens in its "
        "thread exactly as a slow disk would.",
    ),
    STREAM.entry(
        "inline",
        expect="blocks",
        antipattern=True,
        summary="An async generator doing blocking reads: every chunk stalls the loop.",
        lesson="An async generator runs on the event loop between its `yield`s, so each blocking "
        "`read()` inside it stalls the loop for the whole read. Under concurrency the "
        "streams take turns: every other request waits for the sum of their reads.",
    ),
    STREAM.entry(
        "threadpool",
        expect="responsive",
        summary="A def generator, iterated in the thread pool and closed when the response ends.",
        lesson="A `def` generator is iterated in the thread pool, one hop per chunk. Starlette's "
        "`iterate_in_threadpool` never closes it, so on a client disconnect its `finally` "
        "(closing the file) would wait for the garbage collector; looplab's "
        "`iterate_in_threadpool_closing` closes it in a worker thread, shielded from the "
        "cancellation, as soon as the response ends.",
    ),
    STREAM.entry(
        "asyncify",
        expect="responsive",
        summary="An async generator that awaits asyncify(read) for each chunk.",
        lesson="The generator stays `async def`, and each blocking call (open, every read, close) "
        "is awaited in a worker thread. Closing happens in a shielded scope, so a client "
        "that disconnects mid-read still gets its file closed promptly.",
    ),
    STREAM.entry(
        "fileresponse",
        expect="responsive",
        params={"file": FILE},
        workload={"file": sample_name(64 * MiB)},
        summary="Starlette's FileResponse: the baseline to pick for serving a file as is.",
        lesson="`FileResponse` reads 64 KiB per thread hop and sets `content-length`, "
        "`etag` and `last-modified` itself. It has no slowness knobs: its cost is the "
        "file's size (the load streams the 64 MiB sample), not an injected delay.",
    ),
    PRODUCE.entry(
        "async",
        expect="responsive",
        summary="An async def route awaits the async producer: the baseline.",
        lesson="The producer waits between tokens without holding the loop (like an LLM client or "
        "an async HTTP call), so an `async def` route can simply await it.",
    ),
    PRODUCE.entry(
        "syncify",
        expect="responsive",
        summary="A def route calls syncify(producer): the awaits run on the app's loop.",
        lesson="`asyncer.syncify` lets a `def` route (in a worker thread) run async code on the "
        "app's own loop and wait for it, so loop-bound clients can be shared. The route "
        "holds a thread token while it waits; if the producer itself needs a token "
        "(`source=thread`, an async wrapper around a sync client) and every token is held "
        "by such routes, nothing can proceed: a deadlock, not an error, until the clients "
        "give up (then the lab's stop flag ends the work). Called outside an AnyIO worker "
        "thread, `syncify` raises a clear error instead of hanging.",
    ),
    PRODUCE.entry(
        "asyncio-run",
        expect="responsive",
        antipattern=True,
        summary="A def route calls asyncio.run(producer): a new event loop per request.",
        lesson="`asyncio.run` inside a `def` route works and keeps the app's loop free, but builds "
        "and tears down a whole event loop per request, and nothing bound to the app's loop "
        "(a connection pool, an async client, a lock) can be used from it. Use `syncify`, "
        "or make the route `async def`.",
    ),
    PRODUCE_STREAM.entry(
        "async",
        expect="responsive",
        summary="An async generator relays each token as the producer yields it.",
        lesson="The natural shape for streaming an LLM's tokens: an async generator awaits the "
        "producer and yields each token; a client disconnect closes both promptly.",
    ),
    PRODUCE_STREAM.entry(
        "syncify",
        expect="responsive",
        summary="A def generator pulls each token from the async producer through the loop.",
        lesson="Asyncer has no helper for async generators, so the `def` generator pulls one "
        "token at a time with `syncify`, each pull running on the app's loop. Iterated by "
        "`iterate_in_threadpool_closing`, it is closed on disconnect, which closes the "
        "producer too. (With `source=thread` and no stop flag, a disconnect mid-pull trips "
        "an AnyIO bug, agronholm/anyio#1257: the pull never returns and the loop spins; the "
        "lab's producer stops at its checkpoint first.)",
    ),
    CPU.entry(
        "inline",
        expect="blocks",
        antipattern=True,
        summary="An async def route burns CPU on the loop: nothing else runs meanwhile.",
        lesson="Pure-Python work in an `async def` route holds the loop for its whole duration; "
        "concurrent requests queue behind each other and every other request waits.",
    ),
    CPU.entry(
        "asyncify",
        expect="degrades",
        summary="asyncify moves the CPU work to a thread, but the GIL still starves the loop.",
        lesson="A worker thread running Python holds the GIL; the loop thread gets it back only "
        "at a switch point: after 5 ms of bytecode, or when a built-in call (a sort, JSON "
        "encoding, a regex) returns. One request at a time looks fine; a few concurrent "
        "ones stall the loop for a good share of a request's cost, and more make it worse. "
        "Threads suit waiting, not computing.",
    ),
    CPU.entry(
        "process",
        expect="responsive",
        summary="AnyIO's process pool: the CPU work runs in another interpreter.",
        lesson="`anyio.to_process.run_sync` runs the work in a worker process with its own GIL; "
        "the loop only waits for the result. Arguments and results are pickled, and the "
        "pool has one process per CPU.",
    ),
)

_SEEDS: tuple[CatalogueEntry, ...] = (
    STORY.entry("stream", summary="Stream the story as text from an async generator."),
    STORY.entry("stream-no-async", summary="Stream the story as text from a sync generator."),
    STORY.entry(
        "stream-no-annotation",
        summary="Stream the story as text from an unannotated async generator.",
    ),
    STORY.entry(
        "stream-no-async-no-annotation",
        summary="Stream the story as text from an unannotated sync generator.",
    ),
    STORY.entry("stream-bytes", summary="Stream the story as UTF-8 bytes from an async generator."),
    STORY.entry(
        "stream-no-async-bytes", summary="Stream the story as UTF-8 bytes from a sync generator."
    ),
    STORY.entry(
        "stream-no-annotation-bytes",
        summary="Stream the story as UTF-8 bytes from an unannotated async generator.",
    ),
    STORY.entry(
        "stream-no-async-no-annotation-bytes",
        summary="Stream the story as UTF-8 bytes from an unannotated sync generator.",
    ),
    IMAGE.entry("stream", summary="Stream the PNG from an async generator."),
    IMAGE.entry("stream-no-async", summary="Stream the PNG from a sync generator."),
    IMAGE.entry(
        "stream-no-async-yield-from",
        summary="Stream the PNG from a sync generator with yield from.",
    ),
    IMAGE.entry(
        "stream-no-annotation", summary="Stream the PNG from an unannotated async generator."
    ),
    IMAGE.entry(
        "stream-no-async-no-annotation",
        summary="Stream the PNG from an unannotated sync generator.",
    ),
)


CATALOGUE: tuple[CatalogueEntry, ...] = _LAB + _CALLS + _SEEDS

_BY_ID = {e.id: e for e in CATALOGUE}
_FAMILY_BY_NAME = {f.name: f for f in FAMILIES}


def by_id(entry_id: str) -> CatalogueEntry:
    """The catalogue entry with this id (``"read.asyncify"``)."""
    return _BY_ID[entry_id]


def family_of(entry: CatalogueEntry) -> Family:
    """The family an entry belongs to."""
    return _FAMILY_BY_NAME[entry.family]


def long_workload(entry: CatalogueEntry) -> dict[str, QueryValue]:
    """A query that keeps ``entry`` busy for minutes, or {} if its family has none."""
    return {k: v for k, v in family_of(entry).long_workload.items() if k in entry.params}


def approaches_table() -> str:
    """The README's table of the lab's approaches (the seed endpoints left out), in Markdown."""
    rows = [
        "| entry | expect | what it does |",
        "|---|---|---|",
    ]
    for entry in _LAB + _CALLS:
        mark = " 🚨" if entry.antipattern else ""
        rows.append(f"| `{entry.id}` | {entry.expect}{mark} | {entry.summary} |")
    return "\n".join(rows) + "\n"
