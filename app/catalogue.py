"""The catalogue: every endpoint of the lab, its approach, what it should do to the loop, and why.

This is the one list. ``GET /lab`` serves it; the routes take their OpenAPI
``summary`` and ``description`` from it; the timing tests, the bench and the
load tests read it (over HTTP or from here) for the parameters that give one
request a substantial cost (``load``). Nothing else keeps a copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, get_args

from app.work import TokenSource
from looplab.samples import DEFAULT_SIZES, KiB, MiB, sample_name
from looplab.verdict import Verdict

__all__ = [
    "CATALOGUE",
    "CHUNK_SIZE",
    "COLD",
    "CPU_MS",
    "DELAY_MS",
    "FILE",
    "ITEMS",
    "ITEM_DELAY_MS",
    "SOURCE",
    "ChoiceParam",
    "Entry",
    "FlagParam",
    "NumberParam",
    "RouteDocs",
    "about",
    "approaches_table",
    "entry",
]

JSONValue = Any


@dataclass(frozen=True)
class NumberParam:
    """An integer query parameter with inclusive bounds."""

    default: int
    min: int
    max: int
    description: str

    def as_json(self) -> dict[str, JSONValue]:
        return {"default": self.default, "min": self.min, "max": self.max}


@dataclass(frozen=True)
class ChoiceParam:
    """A string query parameter with a set of values."""

    default: str
    choices: tuple[str, ...]
    description: str

    def as_json(self) -> dict[str, JSONValue]:
        return {"default": self.default, "choices": list(self.choices)}


@dataclass(frozen=True)
class FlagParam:
    """A boolean query parameter."""

    default: bool
    description: str

    def as_json(self) -> dict[str, JSONValue]:
        return {"default": self.default, "choices": [False, True]}


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

_READ_PARAMS: Mapping[str, Param] = {"file": FILE, "delay_ms": DELAY_MS, "cold": COLD}
_READ_LOAD = {"file": sample_name(MiB), "delay_ms": 300}
_STREAM_PARAMS: Mapping[str, Param] = {**_READ_PARAMS, "chunk_size": CHUNK_SIZE}
# One 300 ms read per request, like the read family's. The verdict compares the
# loop's worst stall with a request's cost, and a stream yields to the loop between
# chunks: cut into two 150 ms reads, an inline stream alone would stall for half
# its cost at a time and could not be told from a degrading one.
_STREAM_LOAD = {"file": sample_name(MiB), "chunk_size": MiB, "delay_ms": 300}
_PRODUCE_PARAMS: Mapping[str, Param] = {
    "items": ITEMS,
    "item_delay_ms": ITEM_DELAY_MS,
    "source": SOURCE,
}
_PRODUCE_LOAD = {"items": 10, "item_delay_ms": 30}
_CPU_PARAMS: Mapping[str, Param] = {"cpu_ms": CPU_MS}
_CPU_LOAD = {"cpu_ms": 300}


@dataclass(frozen=True)
class Entry:
    """One endpoint: one family of work called in one approach."""

    family: str
    approach: str
    expect: Verdict
    summary: str
    lesson: str
    params: Mapping[str, Param] = field(default_factory=dict)
    load: Mapping[str, JSONValue] = field(default_factory=dict)
    load_cost_ms: float = 0
    antipattern: bool = False
    route: str | None = None
    method: str = "GET"

    @property
    def id(self) -> str:
        return f"{self.family}.{self.approach}"

    @property
    def path(self) -> str:
        return self.route or f"/lab/{self.family}/{self.approach}"

    def as_json(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "family": self.family,
            "approach": self.approach,
            "method": self.method,
            "path": self.path,
            "expect": self.expect,
            "antipattern": self.antipattern,
            "summary": self.summary,
            "lesson": self.lesson,
            "params": {name: param.as_json() for name, param in self.params.items()},
            "load": dict(self.load),
            "load_cost_ms": self.load_cost_ms,
        }


_LAB: tuple[Entry, ...] = (
    # read: a whole sample file -------------------------------------------------
    Entry(
        "read",
        "inline",
        "blocks",
        "An async def route calls the blocking read: the loop waits on the disk.",
        "An `async def` route runs on the event loop, so the blocking `read()` it calls "
        "stalls every other request for as long as the storage takes: here the whole "
        "`delay_ms` (or a cold disk read). Nothing in the code looks slow; only the loop "
        "lag shows it. Make the route `def`, or hand the read to a thread.",
        _READ_PARAMS,
        _READ_LOAD,
        300,
        antipattern=True,
    ),
    Entry(
        "read",
        "threadpool",
        "responsive",
        "A def route: FastAPI runs the same blocking read in the thread pool.",
        "A plain `def` route is called in AnyIO's thread pool, so the blocking read waits "
        "in a worker thread and the loop keeps serving. The pool has 40 tokens by default "
        "(`LOOPLAB_THREAD_TOKENS`): past that, requests queue for a token instead of failing.",
        _READ_PARAMS,
        _READ_LOAD,
        300,
    ),
    Entry(
        "read",
        "asyncify",
        "responsive",
        "An async def route awaits asyncify(read): the blocking call runs in a thread.",
        "`await asyncify(read_sample)(...)` keeps the route `async def` (to await other "
        "things) while the one blocking call runs in the same thread pool a `def` route uses.",
        _READ_PARAMS,
        _READ_LOAD,
        300,
    ),
    Entry(
        "read",
        "anyio",
        "responsive",
        "AnyIO's async file API: every file operation is awaited in a worker thread.",
        "`anyio.wrap_file` (like `anyio.open_file`) turns each method call of a file object "
        "into `await to_thread.run_sync(...)`: the read, and the slow storage inside it, "
        "wait in a thread. It is threads underneath, not asynchronous disk I/O.",
        _READ_PARAMS,
        _READ_LOAD,
        300,
    ),
    # stream: a sample file in chunks --------------------------------------------
    Entry(
        "stream",
        "inline",
        "blocks",
        "An async generator doing blocking reads: every chunk stalls the loop.",
        "An async generator runs on the event loop between its `yield`s, so each blocking "
        "`read()` inside it stalls the loop for the whole read. Under concurrency the "
        "streams take turns: every other request waits for the sum of their reads.",
        _STREAM_PARAMS,
        _STREAM_LOAD,
        300,
        antipattern=True,
    ),
    Entry(
        "stream",
        "threadpool",
        "responsive",
        "A def generator, iterated in the thread pool and closed when the response ends.",
        "A `def` generator is iterated in the thread pool, one hop per chunk. Starlette's "
        "`iterate_in_threadpool` never closes it, so on a client disconnect its `finally` "
        "(closing the file) would wait for the garbage collector; looplab's "
        "`iterate_in_threadpool_closing` closes it in a worker thread, shielded from the "
        "cancellation, as soon as the response ends.",
        _STREAM_PARAMS,
        _STREAM_LOAD,
        300,
    ),
    Entry(
        "stream",
        "asyncify",
        "responsive",
        "An async generator that awaits asyncify(read) for each chunk.",
        "The generator stays `async def`, and each blocking call (open, every read, close) "
        "is awaited in a worker thread. Closing happens in a shielded scope, so a client "
        "that disconnects mid-read still gets its file closed promptly.",
        _STREAM_PARAMS,
        _STREAM_LOAD,
        300,
    ),
    Entry(
        "stream",
        "fileresponse",
        "responsive",
        "Starlette's FileResponse: the baseline to pick for serving a file as is.",
        "`FileResponse` reads 64 KiB per thread hop and sets `content-length`, "
        "`etag` and `last-modified` itself. It has no slowness knobs: its cost is the "
        "file's size (the load streams the 64 MiB sample), not an injected delay.",
        {"file": FILE},
        {"file": sample_name(64 * MiB)},
        0,
    ),
    # produce: an async producer, collected ------------------------------------
    Entry(
        "produce",
        "async",
        "responsive",
        "An async def route awaits the async producer: the baseline.",
        "The producer waits between tokens without holding the loop (like an LLM client or "
        "an async HTTP call), so an `async def` route can simply await it.",
        _PRODUCE_PARAMS,
        _PRODUCE_LOAD,
        300,
    ),
    Entry(
        "produce",
        "syncify",
        "responsive",
        "A def route calls syncify(producer): the awaits run on the app's loop.",
        "`asyncer.syncify` lets a `def` route (in a worker thread) run async code on the "
        "app's own loop and wait for it, so loop-bound clients can be shared. The route "
        "holds a thread token while it waits; if the producer itself needs a token "
        "(`source=thread`, an async wrapper around a sync client) and every token is held "
        "by such routes, nothing can proceed: a deadlock, not an error. Called outside an "
        "AnyIO worker thread, `syncify` raises a clear error instead of hanging.",
        _PRODUCE_PARAMS,
        _PRODUCE_LOAD,
        300,
    ),
    Entry(
        "produce",
        "asyncio-run",
        "responsive",
        "A def route calls asyncio.run(producer): a new event loop per request.",
        "`asyncio.run` inside a `def` route works and keeps the app's loop free, but builds "
        "and tears down a whole event loop per request, and nothing bound to the app's loop "
        "(a connection pool, an async client, a lock) can be used from it. Use `syncify`, "
        "or make the route `async def`.",
        _PRODUCE_PARAMS,
        _PRODUCE_LOAD,
        300,
        antipattern=True,
    ),
    # produce-stream: the producer's tokens, streamed ----------------------------
    Entry(
        "produce-stream",
        "async",
        "responsive",
        "An async generator relays each token as the producer yields it.",
        "The natural shape for streaming an LLM's tokens: an async generator awaits the "
        "producer and yields each token; a client disconnect closes both promptly.",
        _PRODUCE_PARAMS,
        _PRODUCE_LOAD,
        300,
    ),
    Entry(
        "produce-stream",
        "syncify",
        "responsive",
        "A def generator pulls each token from the async producer through the loop.",
        "Asyncer has no helper for async generators, so the `def` generator pulls one "
        "token at a time with `syncify`, each pull running on the app's loop. Iterated by "
        "`iterate_in_threadpool_closing`, it is closed on disconnect, which closes the "
        "producer too. (With `source=thread`, a disconnect mid-pull currently trips an "
        "AnyIO bug, agronholm/anyio#1257: the pull never returns and the loop spins.)",
        _PRODUCE_PARAMS,
        _PRODUCE_LOAD,
        300,
    ),
    # cpu: pure-Python work -----------------------------------------------------
    Entry(
        "cpu",
        "inline",
        "blocks",
        "An async def route burns CPU on the loop: nothing else runs meanwhile.",
        "Pure-Python work in an `async def` route holds the loop for its whole duration; "
        "concurrent requests queue behind each other and every other request waits.",
        _CPU_PARAMS,
        _CPU_LOAD,
        300,
        antipattern=True,
    ),
    Entry(
        "cpu",
        "asyncify",
        "degrades",
        "asyncify moves the CPU work to a thread, but the GIL still starves the loop.",
        "A worker thread running Python holds the GIL; the loop thread gets it back only "
        "at a switch point: after 5 ms of bytecode, or when a built-in call (a sort, JSON "
        "encoding, a regex) returns. One request at a time looks fine; a few concurrent "
        "ones stall the loop for a good share of a request's cost, and more make it worse. "
        "Threads suit waiting, not computing.",
        _CPU_PARAMS,
        _CPU_LOAD,
        300,
    ),
    Entry(
        "cpu",
        "process",
        "responsive",
        "AnyIO's process pool: the CPU work runs in another interpreter.",
        "`anyio.to_process.run_sync` runs the work in a worker process with its own GIL; "
        "the loop only waits for the result. Arguments and results are pickled, and the "
        "pool has one process per CPU.",
        _CPU_PARAMS,
        _CPU_LOAD,
        300,
    ),
)


def _seed(family: str, approach: str, summary: str, lesson: str) -> Entry:
    return Entry(family, approach, "responsive", summary, lesson, route=f"/{family}/{approach}")


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

_SEEDS: tuple[Entry, ...] = (
    _seed("story", "stream", "Stream the story as text from an async generator.", _STORY_LESSON),
    _seed(
        "story",
        "stream-no-async",
        "Stream the story as text from a sync generator.",
        _STORY_LESSON,
    ),
    _seed(
        "story",
        "stream-no-annotation",
        "Stream the story as text from an unannotated async generator.",
        _STORY_LESSON,
    ),
    _seed(
        "story",
        "stream-no-async-no-annotation",
        "Stream the story as text from an unannotated sync generator.",
        _STORY_LESSON,
    ),
    _seed(
        "story",
        "stream-bytes",
        "Stream the story as UTF-8 bytes from an async generator.",
        _STORY_LESSON,
    ),
    _seed(
        "story",
        "stream-no-async-bytes",
        "Stream the story as UTF-8 bytes from a sync generator.",
        _STORY_LESSON,
    ),
    _seed(
        "story",
        "stream-no-annotation-bytes",
        "Stream the story as UTF-8 bytes from an unannotated async generator.",
        _STORY_LESSON,
    ),
    _seed(
        "story",
        "stream-no-async-no-annotation-bytes",
        "Stream the story as UTF-8 bytes from an unannotated sync generator.",
        _STORY_LESSON,
    ),
    _seed("image", "stream", "Stream the PNG from an async generator.", _IMAGE_LESSON),
    _seed("image", "stream-no-async", "Stream the PNG from a sync generator.", _IMAGE_LESSON),
    _seed(
        "image",
        "stream-no-async-yield-from",
        "Stream the PNG from a sync generator with yield from.",
        _IMAGE_LESSON,
    ),
    _seed(
        "image",
        "stream-no-annotation",
        "Stream the PNG from an unannotated async generator.",
        _IMAGE_LESSON,
    ),
    _seed(
        "image",
        "stream-no-async-no-annotation",
        "Stream the PNG from an unannotated sync generator.",
        _IMAGE_LESSON,
    ),
)

CATALOGUE: tuple[Entry, ...] = _LAB + _SEEDS

_BY_ID = {e.id: e for e in CATALOGUE}


def entry(entry_id: str) -> Entry:
    """The catalogue entry with this id (``"read.asyncify"``)."""
    return _BY_ID[entry_id]


class RouteDocs(TypedDict):
    summary: str
    description: str


def about(entry_id: str) -> RouteDocs:
    """The route decorator's ``summary`` and ``description``, taken from the catalogue."""
    found = entry(entry_id)
    return RouteDocs(summary=found.summary, description=found.lesson)


def approaches_table() -> str:
    """The README's table of the lab's approaches (the seed endpoints left out), in Markdown."""
    rows = [
        "| entry | expect | what it does |",
        "|---|---|---|",
    ]
    for found in _LAB:
        mark = " 🚨" if found.antipattern else ""
        rows.append(f"| `{found.id}` | {found.expect}{mark} | {found.summary} |")
    return "\n".join(rows) + "\n"
