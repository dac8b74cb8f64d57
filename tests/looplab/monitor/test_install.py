"""Wiring the monitor into an app: one call, LOOPLAB_MONITOR, LOOPLAB_THREAD_TOKENS, workers."""

import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import get_args

import anyio
import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from looplab.bench import ServerProcess
from looplab.monitor import instrument
from looplab.monitor._frames import route_paths
from looplab.protocol import MonitorSnapshot, StallKind

MONITOR_PATHS = {"/monitor", "/monitor/stream", "/metrics"}


def paths(app: FastAPI) -> set[str]:
    return set(route_paths(app).values())


@pytest.mark.anyio
async def test_monitor_off_mounts_only_ping_and_still_sizes_the_pool() -> None:
    app = FastAPI()
    monitor = instrument(app, env={"LOOPLAB_MONITOR": "0", "LOOPLAB_THREAD_TOKENS": "7"})
    assert monitor is None
    assert "/ping" in paths(app)
    assert not MONITOR_PATHS & paths(app)
    async with app.router.lifespan_context(app):
        assert anyio.to_thread.current_default_thread_limiter().total_tokens == 7


@pytest.mark.anyio
async def test_prefix_and_lifespan_run_the_monitor() -> None:
    app = FastAPI()
    monitor = instrument(app, prefix="/_looplab", env={})
    assert monitor is not None
    assert {"/_looplab/ping", *(f"/_looplab{p}" for p in MONITOR_PATHS)} <= paths(app)
    assert not monitor.running
    async with app.router.lifespan_context(app):
        assert monitor.running
    assert not monitor.running


@pytest.mark.anyio
@pytest.mark.timing
async def test_lifespan_stalls_are_named_startup_and_shutdown() -> None:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        time.sleep(0.12)  # noqa: ASYNC251 (a stall at startup)
        yield
        time.sleep(0.12)  # noqa: ASYNC251 (a stall at shutdown)

    app = FastAPI(lifespan=lifespan)
    monitor = instrument(app, metrics=False, env={})
    assert monitor is not None
    async with app.router.lifespan_context(app):
        await anyio.sleep(0.05)
        time.sleep(0.12)  # noqa: ASYNC251 (no request, no lifespan phase: no route)
        await anyio.sleep(0.05)
    stalls = monitor.snapshot(monitor.window()).stalls.recent
    assert [stall.route for stall in stalls] == ["(startup)", None, "(shutdown)"]


@pytest.mark.anyio
async def test_reset_windows_leaves_out_a_warm_up_that_just_ended() -> None:
    app = FastAPI()
    monitor = instrument(app, metrics=False, env={})
    assert monitor is not None
    async with app.router.lifespan_context(app):
        time.sleep(0.12)  # noqa: ASYNC251 (the warm-up's stall, not yet ticked)
        monitor.reset_windows()
        assert monitor.snapshot(monitor.window()).stalls.count == 0


@pytest.mark.anyio
@pytest.mark.timing
@pytest.mark.parametrize("prefix", ["", "/_looplab"])
async def test_a_plain_starlette_app_gets_the_monitor_too(prefix: str) -> None:
    async def block(request: Request) -> PlainTextResponse:
        time.sleep(0.12)  # noqa: ASYNC251 (the block under test)
        return PlainTextResponse("done")

    app = Starlette(routes=[Route("/block", block)])
    monitor = instrument(app, prefix=prefix, env={})
    assert monitor is not None
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        assert (await client.get(prefix + "/ping")).json() == {"ok": True}
        assert (await client.get("/block")).text == "done"
        await anyio.sleep(0.02)
        response = await client.get(prefix + "/monitor")
        assert (await client.get(prefix + "/monitor?window=no good")).status_code == 422
    snapshot = MonitorSnapshot.model_validate_json(response.content)
    stall = next(s for s in snapshot.stalls.recent if s.route == "/block")
    assert stall.blame is not None
    assert stall.blame.function == "block"


def test_metrics_follow_the_option_and_prometheus_client(monkeypatch: pytest.MonkeyPatch) -> None:
    without = FastAPI()
    assert instrument(without, metrics=False, env={}) is not None
    assert paths(without) >= {"/ping", "/monitor", "/monitor/stream"}
    assert "/metrics" not in paths(without)
    # The default mounts /metrics only where prometheus-client can be imported.
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "prometheus_client" else real_find_spec(name, *args),
    )
    missing = FastAPI()
    instrument(missing, env={})
    assert "/metrics" not in paths(missing)
    forced = FastAPI()
    instrument(forced, metrics=True, env={})
    assert MONITOR_PATHS <= paths(forced)


def test_ping_and_monitor_are_documented_with_their_models() -> None:
    app = FastAPI()
    instrument(app, env={})
    schema = app.openapi()
    ping = schema["paths"]["/ping"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ping["schema"] == {"$ref": "#/components/schemas/Ping"}
    read = schema["paths"]["/monitor"]["get"]["responses"]["200"]["content"]["application/json"]
    assert read["schema"] == {"$ref": "#/components/schemas/MonitorSnapshot"}


@pytest.mark.parametrize("tokens", ["0", "-3", "many"])
def test_bad_thread_tokens_are_refused(tokens: str) -> None:
    with pytest.raises(ValueError, match="LOOPLAB_THREAD_TOKENS"):
        instrument(FastAPI(), env={"LOOPLAB_THREAD_TOKENS": tokens})


def test_demo_app_honours_looplab_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.main import create_app

    monkeypatch.setenv("LOOPLAB_MONITOR", "0")
    assert not MONITOR_PATHS & paths(create_app())
    monkeypatch.setenv("LOOPLAB_MONITOR", "1")
    assert MONITOR_PATHS <= paths(create_app())


@pytest.mark.server
@pytest.mark.timing
def test_uvloop_reports_no_utilization_but_measures_lag() -> None:
    with ServerProcess("tests.looplab.sample_app:app", loop="uvloop") as server:
        httpx.get(server.url + "/slow", timeout=30)
        response = httpx.get(server.url + "/monitor", timeout=30)
        metrics = httpx.get(server.url + "/metrics", timeout=30).text
    snapshot = MonitorSnapshot.model_validate_json(response.content)
    assert snapshot.loop.backend == "uvloop"
    assert snapshot.loop.utilization is None
    assert any(s.route == "/slow" for s in snapshot.stalls.recent)
    assert snapshot.loop.lag_ms.max >= 150
    utilization = [
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "looplab_event_loop_utilization_ratio"
    ]
    assert len(utilization) == 1 and math.isnan(utilization[0])


@contextmanager
def serving(log_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``looplab serve --port 0 ARGS`` in a subprocess; yields its URL."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "looplab._cli", "serve", "--port", "0", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        deadline = time.monotonic() + 60
        while not (match := re.search(r"running on (http://\S+:\d+)", log_path.read_text())):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def get_when_up(url: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, timeout=30)
        except httpx.TransportError:
            # With workers, the parent binds the port before a worker answers.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.server
def test_serve_asyncio_loop_reports_utilization(tmp_path: Path) -> None:
    with serving(tmp_path / "serve.log", "--loop", "asyncio") as url:
        get_when_up(url + "/ping")
        time.sleep(0.2)
        loop = MonitorSnapshot.model_validate_json(get_when_up(url + "/monitor").content).loop
    assert loop.backend == "asyncio"
    assert loop.utilization is not None
    assert 0.0 <= loop.utilization <= 1.0


@pytest.fixture
def serve_two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``looplab serve --workers 2``, given a multiprocess directory to prepare and clean."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "stale_from_last_run.db").write_bytes(b"junk")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with serving(tmp_path / "serve.log", "--workers", "2", env=env) as url:
        yield url, metrics_dir
    # serve removes the directory once its workers are gone.
    assert not metrics_dir.exists()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url + "/metrics", timeout=30).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def per_worker_counts(metrics_dir: Path) -> dict[str, float]:
    """Each worker's own lag-histogram count (by pid), read from its file alone."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    counts = {}
    for db in sorted(metrics_dir.glob("histogram_*.db")):
        collector = MultiProcessCollector(CollectorRegistry(), path=str(metrics_dir))
        for family in collector.merge([str(db)], accumulate=True):
            for sample in family.samples:
                if sample.name == "looplab_event_loop_lag_seconds_count":
                    counts[db.stem.removeprefix("histogram_")] = sample.value
    return counts


def live_workers(metrics_dir: Path, url: str) -> set[str]:
    """Wait until two workers tick (a worker slow to start may be replaced by uvicorn)."""
    get_when_up(url + "/ping")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        first = per_worker_counts(metrics_dir)
        time.sleep(0.3)
        second = per_worker_counts(metrics_dir)
        ticking = {pid for pid, count in second.items() if count > first.get(pid, 0)}
        if len(ticking) >= 2:
            return ticking
    raise AssertionError(f"two workers never ticked: {per_worker_counts(metrics_dir)}")


@pytest.mark.server
def test_two_workers_sum_histograms_and_counters_and_label_gauges(
    serve_two_workers: tuple[str, Path],
) -> None:
    url, metrics_dir = serve_two_workers
    assert not (metrics_dir / "stale_from_last_run.db").exists()
    live = live_workers(metrics_dir, url)
    before = per_worker_counts(metrics_dir)
    total = scrape(url)[("looplab_event_loop_lag_seconds_count", ())]
    after = per_worker_counts(metrics_dir)
    # The scrape summed the workers: more than any one alone, no more than all after it.
    assert sum(before.values()) <= total <= sum(after.values())
    assert total > max(after.values())
    # Gauges carry the pid of each worker (written on its first tick, then every second).
    samples = scrape(url)
    gauge_pids = {dict(labels)["pid"] for name, labels in samples if "capacity_tokens" in name}
    assert live <= gauge_pids
    for kind in get_args(StallKind):
        assert ("looplab_event_loop_stalls_total", (("kind", kind),)) in samples


def _gauge_pids(url: str) -> set[str]:
    return {
        dict(labels)["pid"]
        for name, labels in scrape(url)
        if name == "looplab_threadpool_capacity_tokens"
    }


@pytest.mark.server
def test_a_dead_workers_gauges_go_and_the_sums_stay(serve_two_workers: tuple[str, Path]) -> None:
    url, metrics_dir = serve_two_workers
    live = live_workers(metrics_dir, url)
    victim = sorted(live)[0]
    before = scrape(url)[("looplab_event_loop_lag_seconds_count", ())]
    os.kill(int(victim), signal.SIGKILL)
    # uvicorn replaces the worker; wait until two workers tick again, the new one among them.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ticking = live_workers(metrics_dir, url)
        if victim not in ticking and len(ticking) >= 2:
            break
    else:
        raise AssertionError("no replacement worker ticked")
    # Every scrape (whichever worker serves it) prunes the dead worker's gauges.
    for _ in range(4):
        pids = _gauge_pids(url)
        assert victim not in pids
        assert pids <= {str(pid) for pid in _alive_pids(pids)}
    # Its histogram and counter counts still add to the sums: they only grow.
    assert scrape(url)[("looplab_event_loop_lag_seconds_count", ())] >= before


def _alive_pids(pids: set[str]) -> set[int]:
    alive = set()
    for pid in map(int, pids):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.add(pid)
    return alive
