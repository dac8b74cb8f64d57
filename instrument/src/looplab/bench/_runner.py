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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from looplab.bench._catalogue import fetch_catalogue, select
from looplab.bench._clients import ClientProcess
from looplab.bench._load import LoadResult
from looplab.bench._probe import ProbeResult
from looplab.bench._remote import Server, peak_rss_bytes, peak_rss_reset, rss_bytes
from looplab.bench._server import ServerProcess
from looplab.protocol import (
    BenchResults,
    BenchSettings,
    CatalogueEntry,
    IdleRecord,
    MonitorSnapshot,
    RunMeta,
    RunRecord,
    ServerLag,
    StallTotals,
)
from looplab.verdict import Lag, family_verdicts

__all__ = ["Bench", "Measurement", "ProgressCallback", "assign_verdicts"]

# Lead time for both client processes to open their connections before the clock starts.
_LEAD_S = 0.3
# The monitor window is reset this long before the load starts, while the server is idle:
# a reset sent after a blocking request had arrived would wait for it and miss its stall.
_RESET_AHEAD_S = 0.1
# The packages whose versions results.json records, besides Python and the plugin's own.
_VERSIONS = ("looplab", "anyio", "starlette", "fastapi", "uvicorn")

ProgressCallback = Callable[[str], None]


@dataclass
class Measurement:
    """The raw figures of one run, before the verdicts."""

    load: LoadResult | None
    probe: ProbeResult
    # The bench's /monitor window over the run; None without a per-process monitor.
    snapshot: MonitorSnapshot | None
    rss_growth_bytes: int | None = None


@dataclass
class _State:
    entries: list[CatalogueEntry] = field(default_factory=list)
    monitor: bool = False
    warmed: set[str] = field(default_factory=set)
    idle: Measurement | None = None
    runs: list[RunRecord] = field(default_factory=list)


class Bench:
    """Runs the bench; ``run()`` returns the results document (see ``results``)."""

    def __init__(
        self,
        settings: BenchSettings,
        *,
        server_env: Mapping[str, str] | None = None,
        versions: Sequence[str] = (),
        progress: ProgressCallback | None = None,
    ) -> None:
        if settings.url is None and settings.app is None:
            raise ValueError("the bench needs a server: settings.url, or settings.app to start")
        self.settings = settings
        self._server_env = dict(server_env or {})
        self._versions = tuple(dict.fromkeys((*_VERSIONS, *versions)))
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
                assert self.settings.app is not None
                process = ServerProcess(
                    self.settings.app,
                    workers=self.settings.workers,
                    loop=self.settings.loop,
                    http=self.settings.http,
                    env=self._server_env,
                )
                self._process = stack.enter_context(process)
                base = process.url
            self._server = Server(base, self.settings.monitor_prefix)
            self._server.check_ping()
            # An app without a catalogue (a user's own) gets the probe alone.
            catalogue = fetch_catalogue(base)
            self._state.entries = select(catalogue or [], self.settings.families, self.settings.ids)
            self._state.monitor = self.settings.workers == 1 and self._server.has_monitor()
            self._load = ClientProcess("looplab-load")
            stack.callback(self._load.close)
            self._probe = ClientProcess("looplab-probe")
            stack.callback(self._probe.close)
            yield self

    @property
    def entries(self) -> list[CatalogueEntry]:
        return self._state.entries

    @property
    def server(self) -> Server:
        assert self._server is not None, "use the bench inside `started()`"
        return self._server

    @property
    def server_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

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
            url=self.server.ping_url,
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
        probe = self._probe.result(ProbeResult, timeout)
        load = self._load.result(LoadResult, timeout) if url is not None else None
        snapshot = self.server.monitor() if self._state.monitor else None
        growth = None
        if pid is not None and rss_before is not None:
            peak = peak_rss_bytes(pid)
            growth = None if peak is None else max(0, peak - rss_before)
        return Measurement(load, probe, snapshot, growth)

    def load_only(self, url: str, concurrency: int, duration_s: float) -> LoadResult:
        """Load any URL (no probe, no monitor): the sendfile limit is measured this way."""
        assert self._load is not None
        start_at = time.monotonic() + _LEAD_S
        self._load.submit(
            "load", url=url, concurrency=concurrency, duration_s=duration_s, start_at=start_at
        )
        return self._load.result(LoadResult, duration_s + 120)

    def progress(self, description: str) -> None:
        """Tell the progress display that the next step has begun."""
        self._progress(description)

    def wait_drained(self) -> None:
        idle = self._state.idle
        fast_ms = max(20.0, 2 * idle.probe.probe_ms.p99) if idle is not None else 20.0
        self.server.wait_drained(
            fast_ms=fast_ms, check_threads=self._state.monitor, pid=self.server_pid
        )

    def warm_up(self, entry: CatalogueEntry, url: str) -> None:
        if entry.id not in self._state.warmed:
            self.server.warm_up(url)
            self._state.warmed.add(entry.id)

    # -- the whole bench --------------------------------------------------------
    def planned_steps(self) -> int:
        return 1 + len(self.entries) * len(self.settings.concurrency)

    def run(self) -> BenchResults:
        """The idle floor, then every entry at every concurrency; verdicts at the end."""
        settings = self.settings
        self.progress("idle floor (probe alone)")
        self._state.idle = self.measure(None, 1, settings.duration_s)
        for concurrency in settings.concurrency:
            for entry in self.entries:
                self.progress(f"{entry.id} x {concurrency}")
                url = entry.url(self.server.base)
                self.warm_up(entry, url)
                measured = self.measure(url, concurrency, settings.duration_s)
                self._state.runs.append(_run_record(entry, concurrency, measured))
        results = self.results_so_far()
        assert results is not None
        return results

    def results_so_far(self, partial: str | None = None) -> BenchResults | None:
        """What has been measured (None before the idle floor), ``partial`` saying why it stopped.

        An interrupted bench keeps its runs: the families measured are judged as usual,
        on the runs they have.
        """
        idle = self._state.idle
        if idle is None:
            return None
        return BenchResults(
            meta=self._meta(idle.snapshot),
            idle=IdleRecord(
                probe_ms=idle.probe.probe_ms,
                lag_ms=_server_lag(idle.snapshot),
                trace=idle.probe.trace,
            ),
            runs=assign_verdicts(self._state.runs),
            partial=partial,
        )

    def _meta(self, snapshot: MonitorSnapshot | None) -> RunMeta:
        versions = {"python": platform.python_version()}
        for name in self._versions:
            try:
                versions[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                versions[name] = "not installed"
        return RunMeta(
            versions=versions,
            loop=self._loop_used(snapshot),
            workers=self.settings.workers,
            cpu_count=os.cpu_count() or 1,
            platform=f"{platform.platform()} ({platform.machine()})",
            date=datetime.now(UTC).isoformat(timespec="seconds"),
            settings=self.settings,
            server=self.settings.url or f"{self.settings.app} (uvicorn)",
            monitor=self._state.monitor,
        )

    def _loop_used(self, snapshot: MonitorSnapshot | None) -> str:
        # The monitor reports the loop the server really runs; without it, say what
        # uvicorn's "auto" picks (uvloop when importable), or that it is unknown.
        if snapshot is not None and snapshot.loop.backend:
            return snapshot.loop.backend
        if self.settings.url:
            return "unknown"
        if self.settings.loop == "auto":
            return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        return self.settings.loop


def _server_lag(snapshot: MonitorSnapshot | None) -> ServerLag:
    if snapshot is None:
        return ServerLag(p99=None, max=None)
    return ServerLag(p99=snapshot.loop.lag_ms.p99, max=snapshot.loop.lag_ms.max)


def _run_record(entry: CatalogueEntry, concurrency: int, measured: Measurement) -> RunRecord:
    load, probe, snapshot = measured.load, measured.probe, measured.snapshot
    assert load is not None
    top = snapshot.stalls.top if snapshot is not None else []
    return RunRecord(
        id=entry.id,
        family=entry.family,
        approach=entry.approach,
        expect=entry.expect,
        concurrency=concurrency,
        duration_s=load.duration_s,
        requests=load.requests,
        errors=load.errors,
        throughput_rps=load.throughput_rps,
        mb_per_s=load.mb_per_s,
        work_ms=load.work_ms,
        probe_ms=probe.probe_ms,
        lag_ms=_server_lag(snapshot),
        threadpool_peak_borrowed=snapshot.threadpool.peak_borrowed if snapshot else None,
        stalls=(
            StallTotals(count=snapshot.stalls.count, total_ms=snapshot.stalls.total_ms)
            if snapshot
            else None
        ),
        top_blocker=top[0] if top else None,
        # Placeholders until assign_verdicts has measured the whole family.
        verdict="responsive",
        agrees=True,
        verdict_source="server lag" if snapshot else "probe",
        cost_ms=entry.cost_ms,
        trace=probe.trace,
    )


def _lag_of(run: RunRecord) -> Lag:
    # The server's own lag when it has a monitor; otherwise the probe, which sees
    # the same stalls from outside (plus the network round trip and queueing).
    if run.lag_ms.max is not None and run.lag_ms.p99 is not None:
        return Lag(max_ms=run.lag_ms.max, p99_ms=run.lag_ms.p99)
    return Lag(max_ms=run.probe_ms.max, p99_ms=run.probe_ms.p99)


def assign_verdicts(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs with their verdicts: the entries of one family at one concurrency judged together.

    An entry whose ``cost_ms`` is 0 (the cheap seed endpoints) injects no cost a
    stall could be measured against, so it cannot "block" by the rule's
    definition; what its verdict answers is whether the loop stayed usable for
    everyone else while it was hammered: ``responsive`` when the lag p99 stayed
    within the rule's absolute 60 ms ceiling, ``degrades`` when it did not.
    """
    groups: dict[tuple[str, int], list[RunRecord]] = {}
    for run in runs:
        groups.setdefault((run.family, run.concurrency), []).append(run)
    judged = {}
    for group in groups.values():
        verdicts = family_verdicts(
            {run.id: _lag_of(run) for run in group}, {run.id: run.cost_ms for run in group}
        )
        for run in group:
            update = {"verdict": verdicts[run.id], "agrees": verdicts[run.id] == run.expect}
            judged[id(run)] = run.model_copy(update=update)
    return [judged[id(run)] for run in runs]
