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
    "SOURCE",
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

FAMILIES: tuple[Family, ...] = (READ, STREAM, PRODUCE, PRODUCE_STREAM, CPU, STORY, IMAGE)

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


CATALOGUE: tuple[CatalogueEntry, ...] = _LAB + _SEEDS

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
    for entry in _LAB:
        mark = " 🚨" if entry.antipattern else ""
        rows.append(f"| `{entry.id}` | {entry.expect}{mark} | {entry.summary} |")
    return "\n".join(rows) + "\n"
