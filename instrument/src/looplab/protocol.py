"""The JSON that crosses between a server and looplab, as pydantic models.

Three documents cross a process boundary: a lab's catalogue (``GET /lab``), the
monitor's snapshot (``GET /monitor`` and every ``/monitor/stream`` event), and the
bench's ``results.json``. Each is defined once, here: servers answer with these
models as their ``response_model``, and every reader (the bench, ``looplab.testing``,
a locustfile, a dashboard) parses with the same ones.

Changes to the monitor snapshot are additive only. ``results.json`` carries
``schema_version``, bumped on every change to :class:`BenchResults`.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, computed_field

__all__ = [
    "DEFAULT_HTTP",
    "SCHEMA_VERSION",
    "BenchResults",
    "BenchSettings",
    "Blocker",
    "CatalogueEntry",
    "Frame",
    "IdleRecord",
    "LagFigures",
    "LoopFigures",
    "Message",
    "MonitorSnapshot",
    "ParamSpec",
    "Percentiles",
    "Ping",
    "QueryValue",
    "RunMeta",
    "RunRecord",
    "ServerLag",
    "Stall",
    "StallEvidence",
    "StallFigures",
    "StallKind",
    "StallTotals",
    "TargetRecord",
    "ThreadPoolFigures",
    "Trace",
    "UvicornHttp",
    "Verdict",
    "VerdictSource",
    "Waiting",
    "WindowCounts",
    "WorkPercentiles",
]

Verdict = Literal["blocks", "responsive", "degrades"]
"""What an approach does to the event loop (see :mod:`looplab.verdict` for the rule)."""

QueryValue = bool | int | str
"""A query parameter's value as JSON carries it."""


class _Model(BaseModel):
    # Readers accept documents from newer writers (additive changes), and nothing
    # that crossed a process boundary should be changed by accident afterwards.
    model_config = ConfigDict(frozen=True, extra="ignore")


# -- the monitor ------------------------------------------------------------------------------


class Frame(_Model):
    """One line of a stack: where the loop thread was."""

    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


StallKind = Literal["cpu", "wait", "gc", "gil", "starved", "unknown"]
"""Why the loop stalled (see :func:`looplab.monitor` docs and README for the rule):

``cpu`` the loop thread ran (Python or a C call); ``wait`` it was off the CPU in a
blocking call; ``gc`` garbage collection ran; ``gil`` other threads of the process held
the GIL; ``starved`` it was runnable but the machine did not run it; ``unknown`` the
evidence could not be read (``reason`` says why).
"""


class Waiting(_Model):
    """The requests in flight on the loop while it stalled, not counting the one that blocked."""

    count: int = 0
    by_route: dict[str, int] = Field(default_factory=dict)

    def describe(self) -> str:
        # "/items x9" with a multiplication sign, as a person would write it.
        routes = ", ".join(f"{route} ×{n}" for route, n in self.by_route.items())  # noqa: RUF001
        return f"held {self.count} request(s)" + (f": {routes}" if routes else "")


class StallEvidence(_Model):
    """What the loop thread, the garbage collector and the other threads did during a stall.

    ``runqueue_ms`` (time runnable but not running) is null off Linux;
    ``watchdog_late_ms`` is how late the watchdog thread itself woke.
    """

    cpu_ms: float
    runqueue_ms: float | None
    gc_ms: float
    other_threads_cpu_ms: float
    watchdog_late_ms: float


class Stall(_Model):
    """The loop did not tick for ``duration_ms``; ``blame`` is the user's line that held it.

    ``route`` is the route of the request whose task blocked (its template once routing
    matched, the raw path before that), ``(startup)`` or ``(shutdown)`` during the
    lifespan, or null when no request was being served. ``reason`` says why ``blame``
    (or ``kind``) could not be found; ``waiting`` lists the other requests it held up.
    """

    started_at: str
    duration_ms: float
    route: str | None
    blame: Frame | None
    reason: str | None
    stack: tuple[Frame, ...] = ()
    kind: StallKind = "unknown"
    waiting: Waiting = Field(default_factory=Waiting)
    evidence: StallEvidence | None = None

    def describe(self, frames: int = 6) -> str:
        """Several lines naming the stall: duration, kind, route, blame and a short stack."""
        where = f"route {self.route}" if self.route else "outside a request"
        blame = f"blocked at {self.blame}" if self.blame else f"no blame ({self.reason})"
        held = f", {self.waiting.describe()}" if self.waiting.count else ""
        lines = [
            f"{self.duration_ms:.1f} ms {self.kind} stall at {self.started_at}, "
            f"{where}{held}, {blame}"
        ]
        lines += [f"    {frame}" for frame in self.stack[-frames:]]
        return "\n".join(lines)


class Blocker(Frame):
    """A blamed line and what its stalls added up to in a window (``kind``: the commonest)."""

    count: int
    total_ms: float
    worst_ms: float = 0.0
    kind: StallKind = "unknown"


class LagFigures(_Model):
    """Loop lag in ms; the percentiles and mean are corrected for coordinated omission."""

    p50: float
    p90: float
    p99: float
    p999: float
    max: float
    mean: float


class LoopFigures(_Model):
    backend: str | None
    running: bool
    interval_ms: float
    samples: int
    lag_ms: LagFigures
    # Which of lag_ms are corrected for coordinated omission (max is the raw worst tick).
    corrected: list[str]
    # Busy fraction of the window; null where the loop cannot be timed (uvloop).
    utilization: float | None


class ThreadPoolFigures(_Model):
    """AnyIO's default thread limiter: the pool of ``def`` routes and ``asyncify``."""

    total_tokens: int
    borrowed: int
    waiting: int
    peak_borrowed: int


class StallFigures(_Model):
    threshold_ms: float
    count: int
    total_ms: float
    recent: list[Stall]
    top: list[Blocker]


class WindowCounts(_Model):
    named: int
    streams: int


class MonitorSnapshot(_Model):
    """``GET /monitor``: one window of the monitor, since it was last reset."""

    window: str | None
    since: str
    windows: WindowCounts
    loop: LoopFigures
    threadpool: ThreadPoolFigures
    stalls: StallFigures


class Ping(_Model):
    """``GET /ping``."""

    ok: bool


class Message(_Model):
    """An error answered as one sentence: ``{"detail": "..."}`` (a 404, a 409)."""

    detail: str


# -- the catalogue ----------------------------------------------------------------------------


class ParamSpec(_Model):
    """A query parameter of a catalogue entry: its default and what it accepts."""

    default: QueryValue
    min: int | None = None
    max: int | None = None
    choices: list[QueryValue] | None = None


def _query_value(value: QueryValue) -> str:
    # JSON booleans go out as FastAPI reads them back.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class CatalogueEntry(_Model):
    """One endpoint of a lab: one family of work called in one approach.

    ``workload`` is the query of one request with a substantial cost, and
    ``cost_ms`` that cost (0: the entry injects none, its work is cheap).
    """

    id: str
    family: str
    approach: str
    method: str = "GET"
    path: str
    expect: Verdict
    antipattern: bool = False
    summary: str
    lesson: str
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    workload: dict[str, QueryValue] = Field(default_factory=dict)
    cost_ms: float = 0.0

    def url(self, base: str, **overrides: QueryValue) -> str:
        """The URL of one request with the entry's ``workload``, changed by ``overrides``."""
        query = {**self.workload, **overrides}
        encoded = urlencode({k: _query_value(v) for k, v in query.items()})
        return f"{base.rstrip('/')}{self.path}" + (f"?{encoded}" if encoded else "")


# -- the bench's results ----------------------------------------------------------------------

SCHEMA_VERSION: Literal[3] = 3
"""The version of :class:`BenchResults`; bumped on every change to it."""

UvicornHttp = Literal["auto", "h11", "httptools"]
"""uvicorn's HTTP/1.1 implementations, what ``--http`` takes wherever looplab starts a server.

"auto" is httptools when it is installed (uvicorn[standard]), h11 otherwise. uvicorn 0.54
added "zttp", an optional package no uvicorn extra installs; looplab does not offer it.
"""

DEFAULT_HTTP: UvicornHttp = "h11"
"""The default of ``looplab serve --http`` and ``looplab bench --http``.

h11 ends a streamed body to an HTTP/1.0 client by closing the connection, as HTTP/1.0
requires; httptools (and so "auto" beside uvicorn[standard]) sends it chunked, which an
HTTP/1.0 client cannot decode. h11 is installed wherever uvicorn is (httptools only with
uvicorn[standard]), and what it costs is throughput at saturation, not the probe's latency
(the lab's README, "HTTP/1.0 and ``--http``").
"""

VerdictSource = Literal["server lag", "probe"]


class BenchSettings(_Model):
    """What a bench measures and how (recorded in ``results.json`` as ``meta.settings``)."""

    mode: Literal["quick", "full"] = "quick"
    families: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    concurrency: tuple[int, ...] = (8,)
    duration_s: float = 2.0
    probe_rate_hz: float = 200.0
    # The server's event loop: auto, asyncio (looplab's timed loop) or uvloop.
    loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    # The server's HTTP implementation (uvicorn's --http); recorded, not applied, with url.
    http: UvicornHttp = DEFAULT_HTTP
    workers: int = 1
    # A running server to measure; without it the bench starts ``app`` under uvicorn.
    url: str | None = None
    app: str | None = None
    # Where the app mounts looplab's routes (/ping, /monitor): instrument(app, prefix=...).
    monitor_prefix: str = ""


class Percentiles(_Model):
    p50: float
    p90: float
    p99: float
    max: float


class WorkPercentiles(_Model):
    p50: float
    p99: float
    max: float


class ServerLag(_Model):
    """The server's own lag figures; null where it has no per-process monitor to ask."""

    p99: float | None
    max: float | None


class StallTotals(_Model):
    count: int
    total_ms: float


class Trace(_Model):
    """The probe's worst latency in each 50 ms of a run: what the lag-over-time charts draw."""

    t_s: list[float]
    probe_ms: list[float]


class RunMeta(_Model):
    versions: dict[str, str]
    # The loop the server really ran (from its monitor), or what uvicorn picks.
    loop: str
    workers: int
    cpu_count: int
    platform: str
    date: str
    settings: BenchSettings
    server: str
    monitor: bool


class IdleRecord(_Model):
    """The probe alone: this machine's floor."""

    probe_ms: Percentiles
    lag_ms: ServerLag
    trace: Trace


class RunRecord(_Model):
    """One entry at one concurrency for ``duration_s``."""

    id: str
    family: str
    approach: str
    expect: Verdict
    concurrency: int
    duration_s: float
    requests: int
    errors: int
    throughput_rps: float
    mb_per_s: float
    work_ms: WorkPercentiles
    probe_ms: Percentiles
    lag_ms: ServerLag
    threadpool_peak_borrowed: int | None
    stalls: StallTotals | None
    top_blocker: Frame | None
    verdict: Verdict
    agrees: bool
    verdict_source: VerdictSource
    cost_ms: float
    trace: Trace


class TargetRecord(_Model):
    """One ``--full`` target: its value against its target; ``met`` null when not targeted."""

    name: str
    value: str
    target: str
    met: bool | None
    detail: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def line(self) -> str:
        return f"{self.name}: {self.value} ({self.target})"


class BenchResults(_Model):
    """``results.json``: one bench, a person and a script can both read it."""

    schema_version: Literal[3] = SCHEMA_VERSION
    meta: RunMeta
    idle: IdleRecord
    runs: list[RunRecord]
    targets: list[TargetRecord] | None = None
    # Why the bench stopped before the end (a signal), or null for a complete bench.
    partial: str | None = None

    def with_targets(self, targets: list[TargetRecord]) -> BenchResults:
        return self.model_copy(update={"targets": targets})
