"""The bench: every selected catalogue entry under load, measured from outside.

One run = one entry at one concurrency for ``duration_s``: the load process
calls the entry on N keep-alive connections while the probe process sends
``GET /ping`` at a fixed rate, both starting at the same instant; the server's
own figures come from the bench's named ``/monitor`` window, reset just before
the run and read just after. An idle run (probe only) comes first and gives
this machine's floor. Before each run the bench waits until the server has
drained the last one (no thread token borrowed, ``/ping`` fast again), because
requests cut off at a deadline keep running on the server.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from looplab.bench.catalogue import CatalogueError, Entry, fetch_catalogue, select
from looplab.bench.clients import ClientProcess
from looplab.bench.remote import MonitorFigures, Server, peak_rss_bytes, peak_rss_reset, rss_bytes
from looplab.bench.results import SCHEMA_VERSION
from looplab.samples import default_data_dir, ensure_sample
from looplab.server import ServerProcess
from looplab.verdict import Lag, Verdict, family_verdicts

__all__ = ["Bench", "BenchSettings", "ProgressCallback", "bench_data_dir"]

# Lead time for both client processes to open their connections before the clock starts.
_LEAD_S = 0.3
# The monitor window is reset this long before the load starts, while the server is idle:
# a reset sent after a blocking request had arrived would wait for it and miss its stall.
_RESET_AHEAD_S = 0.1
_VERSIONS = ("fastapi", "starlette", "anyio", "asyncer", "uvicorn")

ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class BenchSettings:
    """What to measure and how; ``as_dict()`` goes into ``meta.settings``."""

    mode: Literal["quick", "full"] = "quick"
    families: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    concurrency: tuple[int, ...] = (8,)
    duration_s: float = 2.0
    probe_rate_hz: float = 200.0
    loop: str = "auto"
    workers: int = 1
    url: str | None = None
    # The ASGI app the bench serves when no --url is given.
    app: str = "app.main:app"

    def as_dict(self) -> dict[str, Any]:
        settings = asdict(self)
        settings["families"] = list(self.families)
        settings["ids"] = list(self.ids)
        settings["concurrency"] = list(self.concurrency)
        return settings


def bench_data_dir() -> Path:
    """The data directory the bench gives the server: ``LOOPLAB_DATA_DIR`` or the user cache.

    The same default as the lab app's, so the samples it creates are shared.
    """
    explicit = os.environ.get("LOOPLAB_DATA_DIR")
    if explicit:
        return Path(explicit)
    return default_data_dir()


@dataclass
class Measurement:
    """The raw figures of one run, before the verdicts."""

    load: dict[str, Any] | None
    probe: dict[str, Any]
    figures: MonitorFigures | None
    rss_growth_bytes: int | None = None


@dataclass
class _State:
    entries: list[Entry] = field(default_factory=list)
    monitor: bool = False
    idle_probe_p99_ms: float = 0.0
    warmed: set[str] = field(default_factory=set)


class Bench:
    """Runs the bench; ``run()`` returns the results document (see ``results``)."""

    def __init__(self, settings: BenchSettings, progress: ProgressCallback | None = None) -> None:
        self.settings = settings
        self._progress = progress or (lambda description: None)
        self._state = _State()
        self._server: Server | None = None
        self._process: ServerProcess | None = None
        self._load: ClientProcess | None = None
        self._probe: ClientProcess | None = None

    # -- set-up -------------------------------------------------------------
    @contextlib.contextmanager
    def started(self) -> Iterator[Bench]:
        """Start the server (unless ``url``), read the catalogue and start the clients."""
        with contextlib.ExitStack() as stack:
            if self.settings.url:
                base = self.settings.url
            else:
                data_dir = bench_data_dir()
                env = {"LOOPLAB_DATA_DIR": str(data_dir)}
                process = ServerProcess(
                    self.settings.app,
                    workers=self.settings.workers,
                    loop=self.settings.loop,
                    env=env,
                )
                self._process = stack.enter_context(process)
                base = process.url
            self._server = Server(base)
            catalogue = fetch_catalogue(base)
            if catalogue is None and not self.settings.url:
                raise CatalogueError(f"the app at {base} serves no catalogue at GET /lab")
            self._state.entries = select(catalogue or [], self.settings.families, self.settings.ids)
            self._state.monitor = self.settings.workers == 1 and self._server.has_monitor()
            self._load = ClientProcess("looplab-load")
            stack.callback(self._load.close)
            self._probe = ClientProcess("looplab-probe")
            stack.callback(self._probe.close)
            yield self

    @property
    def entries(self) -> list[Entry]:
        return self._state.entries

    @property
    def server(self) -> Server:
        assert self._server is not None, "use the bench inside `started()`"
        return self._server

    @property
    def server_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def ensure_sample(self, size_bytes: int) -> str:
        """Create a sample the server does not make by itself; return its file name."""
        if self.settings.url:
            raise CatalogueError("with --url the bench cannot create samples for the server")
        return ensure_sample(bench_data_dir(), size_bytes).name

    # -- one run --------------------------------------------------------------
    def measure(
        self,
        url: str | None,
        concurrency: int,
        duration_s: float,
        *,
        track_rss: bool = False,
    ) -> Measurement:
        """Load ``url`` (None: the probe alone) and probe the server, both from ``start_at``."""
        assert self._load is not None and self._probe is not None
        self.wait_drained()
        start_at = time.monotonic() + _LEAD_S
        if url is not None:
            self._load.submit(
                "load", url=url, concurrency=concurrency, duration_s=duration_s, start_at=start_at
            )
        self._probe.submit(
            "probe",
            url=self.server.base + "/ping",
            rate_hz=self.settings.probe_rate_hz,
            duration_s=duration_s,
            start_at=start_at,
        )
        time.sleep(max(0.0, start_at - _RESET_AHEAD_S - time.monotonic()))
        pid = self.server_pid if track_rss else None
        rss_before = rss_bytes(pid) if pid is not None and peak_rss_reset(pid) else None
        if self._state.monitor:
            self.server.monitor(reset=True)
        timeout = duration_s + 120
        probe = self._probe.result(timeout)
        load = self._load.result(timeout) if url is not None else None
        figures = (
            MonitorFigures.from_snapshot(self.server.monitor()) if self._state.monitor else None
        )
        growth = None
        if pid is not None and rss_before is not None:
            peak = peak_rss_bytes(pid)
            growth = None if peak is None else max(0, peak - rss_before)
        return Measurement(load, probe, figures, growth)

    def load_only(self, url: str, concurrency: int, duration_s: float) -> dict[str, Any]:
        """Load any URL (no probe, no monitor): the sendfile limit is measured this way."""
        assert self._load is not None
        start_at = time.monotonic() + _LEAD_S
        self._load.submit(
            "load", url=url, concurrency=concurrency, duration_s=duration_s, start_at=start_at
        )
        return self._load.result(duration_s + 120)

    def progress(self, description: str) -> None:
        """Tell the progress display that the next step has begun."""
        self._progress(description)

    def wait_drained(self) -> None:
        fast_ms = max(20.0, 2 * self._state.idle_probe_p99_ms)
        self.server.wait_drained(
            fast_ms=fast_ms, check_threads=self._state.monitor, pid=self.server_pid
        )

    def warm_up(self, entry: Entry, url: str) -> None:
        if entry.id not in self._state.warmed:
            self.server.warm_up(url)
            self._state.warmed.add(entry.id)

    # -- the whole bench --------------------------------------------------------
    def planned_steps(self) -> int:
        return 1 + len(self.entries) * len(self.settings.concurrency)

    def run(self) -> dict[str, Any]:
        """The idle floor, then every entry at every concurrency; verdicts at the end."""
        settings = self.settings
        self.progress("idle floor (probe alone)")
        idle = self.measure(None, 1, settings.duration_s)
        self._state.idle_probe_p99_ms = float(idle.probe["probe_ms"]["p99"])
        runs: list[dict[str, Any]] = []
        for concurrency in settings.concurrency:
            for entry in self.entries:
                self.progress(f"{entry.id} x {concurrency}")
                url = entry.url(self.server.base)
                self.warm_up(entry, url)
                measured = self.measure(url, concurrency, settings.duration_s)
                runs.append(_run_record(entry, concurrency, measured))
        _judge(runs)
        return {
            "schema_version": SCHEMA_VERSION,
            "meta": self._meta(idle.figures),
            "idle": _idle_record(idle),
            "runs": runs,
        }

    def _meta(self, figures: MonitorFigures | None) -> dict[str, Any]:
        versions = {"python": platform.python_version()}
        for name in _VERSIONS:
            try:
                versions[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                versions[name] = "not installed"
        return {
            "versions": versions,
            "loop": self._loop_used(figures),
            "workers": self.settings.workers,
            "cpu_count": os.cpu_count() or 1,
            "platform": f"{platform.platform()} ({platform.machine()})",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": self.settings.as_dict(),
            "server": self.server.base if self.settings.url else "app.main:app (uvicorn)",
            "monitor": self._state.monitor,
        }

    def _loop_used(self, figures: MonitorFigures | None) -> str:
        # The monitor reports the loop the server really runs; without it, say what
        # uvicorn's "auto" picks (uvloop when importable), or that it is unknown.
        if figures is not None and figures.backend:
            return figures.backend
        if self.settings.url:
            return "unknown"
        if self.settings.loop == "auto":
            return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        return self.settings.loop


def _idle_record(idle: Measurement) -> dict[str, Any]:
    figures = idle.figures
    return {
        "probe_ms": idle.probe["probe_ms"],
        "lag_ms": {
            "p99": figures.lag_p99_ms if figures else None,
            "max": figures.lag_max_ms if figures else None,
        },
        "trace": idle.probe["trace"],
    }


def _run_record(entry: Entry, concurrency: int, measured: Measurement) -> dict[str, Any]:
    load, probe, figures = measured.load, measured.probe, measured.figures
    assert load is not None
    work = load["work_ms"]
    return {
        "id": entry.id,
        "family": entry.family,
        "approach": entry.approach,
        "expect": entry.expect,
        "concurrency": concurrency,
        "duration_s": load["duration_s"],
        "requests": load["requests"],
        "errors": load["errors"],
        "throughput_rps": load["throughput_rps"],
        "mb_per_s": load["mb_per_s"],
        "work_ms": {"p50": work["p50"], "p99": work["p99"], "max": work["max"]},
        "probe_ms": probe["probe_ms"],
        "lag_ms": {
            "p99": figures.lag_p99_ms if figures else None,
            "max": figures.lag_max_ms if figures else None,
        },
        "threadpool_peak_borrowed": figures.threadpool_peak_borrowed if figures else None,
        "stalls": (
            {"count": figures.stall_count, "total_ms": figures.stall_total_ms} if figures else None
        ),
        "top_blocker": figures.top_blocker if figures else None,
        "verdict": "responsive",  # replaced by _judge once the family has been measured
        "agrees": True,
        "verdict_source": "server lag" if figures else "probe",
        "load_cost_ms": entry.load_cost_ms,
        "trace": probe["trace"],
    }


def _lag_of(run: dict[str, Any]) -> Lag:
    # The server's own lag when it has a monitor; otherwise the probe, which sees
    # the same stalls from outside (plus the network round trip and queueing).
    if run["lag_ms"]["max"] is not None:
        return Lag(max_ms=run["lag_ms"]["max"], p99_ms=run["lag_ms"]["p99"])
    return Lag(max_ms=run["probe_ms"]["max"], p99_ms=run["probe_ms"]["p99"])


def _judge(runs: Sequence[dict[str, Any]]) -> None:
    """Set each run's verdict: the entries of one family at one concurrency judged together.

    An entry whose ``load_cost_ms`` is 0 (the cheap seed endpoints) injects no
    cost a stall could be measured against, so it cannot "block" by the rule's
    definition; what its verdict answers is whether the loop stayed usable for
    everyone else while it was hammered: ``responsive`` when the lag p99 stayed
    within the rule's absolute 60 ms ceiling, ``degrades`` when it did not.
    """
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["family"], run["concurrency"]), []).append(run)
    for group in groups.values():
        verdicts: dict[str, Verdict] = family_verdicts(
            {run["id"]: _lag_of(run) for run in group},
            {run["id"]: float(run["load_cost_ms"]) for run in group},
        )
        for run in group:
            run["verdict"] = verdicts[run["id"]]
            run["agrees"] = run["verdict"] == run["expect"]
