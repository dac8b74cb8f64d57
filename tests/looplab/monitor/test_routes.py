"""The monitor's routes on a real uvicorn serving a small instrumented app."""

import time
from collections.abc import Iterator

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from looplab.bench import ServerProcess
from looplab.protocol import Frame, MonitorSnapshot, ThreadPoolFigures
from tests.looplab import sample_app
from tests.looplab.sample_app import line_of

pytestmark = [pytest.mark.server, pytest.mark.timing]

SLEEP_LINE = line_of(sample_app.slow_route, "time.sleep(")
# The wire names of GET /monitor, spelt out: a reader in another language (a dashboard,
# a locustfile) reads these keys, so renaming a field of the model must fail a test.
MONITOR_KEYS = {"window", "since", "windows", "loop", "threadpool", "stalls"}
WINDOWS_KEYS = {"named", "streams"}
LOOP_KEYS = {"backend", "running", "interval_ms", "samples", "lag_ms", "corrected", "utilization"}
LAG_KEYS = {"p50", "p90", "p99", "p999", "max", "mean"}
THREADPOOL_KEYS = {"total_tokens", "borrowed", "waiting", "peak_borrowed"}
STALLS_KEYS = {"threshold_ms", "count", "total_ms", "recent", "top"}
STALL_KEYS = {"started_at", "duration_ms", "route", "blame", "reason", "stack"}
FRAME_KEYS = {"file", "line", "function"}
TOP_KEYS = FRAME_KEYS | {"count", "total_ms"}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    # Four thread tokens, so a handful of `def` requests exhausts the pool.
    with ServerProcess(
        "tests.looplab.sample_app:app",
        loop="looplab.monitor:new_event_loop",
        env={"LOOPLAB_THREAD_TOKENS": "4"},
    ) as running:
        yield running


def read(server: ServerProcess, window: str, reset: bool = False) -> MonitorSnapshot:
    params = {"window": window, "reset": str(reset).lower()}
    response = httpx.get(server.url + "/monitor", params=params, timeout=30)
    assert response.status_code == 200, response.text
    # Every document served is what looplab's readers parse.
    snapshot = MonitorSnapshot.model_validate_json(response.content)
    assert snapshot.window == window
    return snapshot


def test_ping(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/ping")
    assert response.json() == {"ok": True}


def test_monitor_speaks_the_wire_names(server: ServerProcess) -> None:
    # The one test of the raw JSON; every other reads it through MonitorSnapshot.
    # Changes are additive only: a document may carry more keys, never fewer.
    read(server, "wire", reset=True)
    httpx.get(server.url + "/slow", timeout=30)
    response = httpx.get(server.url + "/monitor", params={"window": "wire"}, timeout=30)
    document = response.json()
    assert MONITOR_KEYS <= document.keys()
    assert WINDOWS_KEYS <= document["windows"].keys()
    assert LOOP_KEYS <= document["loop"].keys()
    assert LAG_KEYS <= document["loop"]["lag_ms"].keys()
    assert THREADPOOL_KEYS <= document["threadpool"].keys()
    assert STALLS_KEYS <= document["stalls"].keys()
    stall = next(s for s in document["stalls"]["recent"] if s["route"] == "/slow")
    assert STALL_KEYS <= stall.keys()
    assert FRAME_KEYS <= stall["blame"].keys()
    assert all(FRAME_KEYS <= frame.keys() for frame in stall["stack"])
    assert TOP_KEYS <= document["stalls"]["top"][0].keys()


def test_monitor_document_and_blame(server: ServerProcess) -> None:
    read(server, "shape", reset=True)
    httpx.get(server.url + "/slow", timeout=30)
    snapshot = read(server, "shape")
    assert snapshot.since.endswith("Z")
    assert snapshot.loop.backend == "asyncio"
    assert snapshot.loop.interval_ms == 5.0
    assert snapshot.stalls.threshold_ms == 50.0
    assert slow_stalls(snapshot) == 1, snapshot.stalls
    stall = next(s for s in snapshot.stalls.recent if s.route == "/slow")
    assert 180 <= stall.duration_ms <= 400
    assert stall.blame == Frame(file=sample_app.__file__, line=SLEEP_LINE, function="slow_route")
    assert stall.reason is None
    assert stall.stack[-1].function == "slow_route"
    top = snapshot.stalls.top[0]
    assert (top.line, top.count) == (SLEEP_LINE, 1)
    assert top.total_ms == stall.duration_ms
    assert snapshot.stalls.total_ms >= stall.duration_ms
    assert snapshot.loop.lag_ms.max >= 180


def test_generator_endpoint_is_attributed_to_its_route(server: ServerProcess) -> None:
    read(server, "chunks", reset=True)
    httpx.get(server.url + "/chunks", timeout=30)
    stalls = read(server, "chunks").stalls.recent
    ours = [s for s in stalls if s.route == "/chunks"]
    assert ours, stalls
    assert all(s.blame is not None and s.blame.function == "_burn" for s in ours)


def test_named_windows_are_independent(server: ServerProcess) -> None:
    read(server, "first", reset=True)
    read(server, "second", reset=True)
    httpx.get(server.url + "/slow", timeout=30)
    assert slow_stalls(read(server, "first", reset=True)) == 1
    # The reset of "first" left "second" alone, and started "first" afresh. (A loaded
    # machine may add stalls of its own to any window: count only the /slow ones.)
    assert slow_stalls(read(server, "second")) == 1
    fresh = read(server, "first")
    assert slow_stalls(fresh) == 0, fresh.stalls
    assert fresh.loop.samples < read(server, "second").loop.samples


def slow_stalls(snapshot: MonitorSnapshot) -> int:
    return sum(1 for stall in snapshot.stalls.recent if stall.route == "/slow")


def test_a_named_window_can_be_dropped(server: ServerProcess) -> None:
    named = read(server, "default").windows.named
    read(server, "short-lived")
    assert read(server, "default").windows.named == named + 1
    drop = server.url + "/monitor?window=short-lived"
    assert httpx.delete(drop, timeout=30).status_code == 204
    assert httpx.delete(drop, timeout=30).status_code == 404
    assert httpx.delete(server.url + "/monitor?window=default", timeout=30).status_code == 409
    assert read(server, "default").windows.named == named


def test_utilization_from_the_loop_factory(server: ServerProcess) -> None:
    read(server, "busy", reset=True)
    time.sleep(0.3)
    idle = read(server, "busy", reset=True).loop.utilization
    httpx.get(server.url + "/slow", timeout=30)
    busy = read(server, "busy").loop.utilization
    assert idle is not None and 0.0 <= idle < 0.3
    assert busy is not None and busy > 0.5


def test_thread_pool_gauges_move_under_def_route_load(server: ServerProcess) -> None:
    read(server, "pool", reset=True)
    readings: list[ThreadPoolFigures] = []

    async def load() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            async with anyio.create_task_group() as tasks:
                for _ in range(6):
                    tasks.start_soon(client.get, "/threadwork?seconds=1.5")
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    response = await client.get("/monitor?window=pool")
                    pool = MonitorSnapshot.model_validate_json(response.content).threadpool
                    readings.append(pool)
                    if pool.borrowed == 4 and pool.waiting == 2:
                        break
                    await anyio.sleep(0.05)

    anyio.run(load)
    assert readings[-1] == ThreadPoolFigures(total_tokens=4, borrowed=4, waiting=2, peak_borrowed=4)
    after = read(server, "pool").threadpool
    assert after == ThreadPoolFigures(total_tokens=4, borrowed=0, waiting=0, peak_borrowed=4)


def test_sse_stream_sends_the_connection_window(server: ServerProcess) -> None:
    events = []
    with httpx.stream("GET", server.url + "/monitor/stream?period_ms=100", timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        for line in stream.iter_lines():
            if line.startswith(("event:", "data:")):
                field, _, value = line.partition(":")
                event[field] = value.strip()
            elif not line and "data" in event:
                events.append(event)
                event = {}
                if len(events) == 1:
                    httpx.get(server.url + "/slow", timeout=30)
                if len(events) == 4:
                    break
    assert {e["event"] for e in events} == {"monitor"}
    # Each event is the document GET /monitor serves.
    snapshots = [MonitorSnapshot.model_validate_json(e["data"]) for e in events]
    assert all(snapshot.window is None for snapshot in snapshots)  # the connection's own
    assert any(s.route == "/slow" for s in snapshots[-1].stalls.recent)
    assert snapshots[-1].since == snapshots[0].since
    assert snapshots[-1].windows.streams >= 1
    # The connection's window goes with the connection.
    deadline = time.monotonic() + 10
    while read(server, "default").windows.streams and time.monotonic() < deadline:
        time.sleep(0.05)
    assert read(server, "default").windows.streams == 0


@pytest.mark.parametrize(
    "query", ["/monitor?window=bad name", "/monitor?window=", "/monitor/stream?period_ms=10",
              "/monitor/stream?period_ms=9000", "/monitor?reset=maybe"]
)  # fmt: skip
def test_bad_input_is_422(server: ServerProcess, query: str) -> None:
    assert httpx.get(server.url + query, timeout=30).status_code == 422


def test_metrics_parse_back_and_scraping_resets_nothing(server: ServerProcess) -> None:
    httpx.get(server.url + "/slow", timeout=30)
    first = scrape(server)
    second = scrape(server)
    # /slow sleeps on the loop: a "wait" stall (the loop thread was off the CPU).
    wait_stalls = 'looplab_event_loop_stalls_total{kind="wait"}'
    assert first[wait_stalls] >= 1
    assert second[wait_stalls] >= first[wait_stalls]
    assert second['looplab_event_loop_stall_seconds_total{kind="wait"}'] >= 0.18
    lag_count = "looplab_event_loop_lag_seconds_count"
    assert second[lag_count] >= first[lag_count]
    assert second['looplab_event_loop_lag_seconds_bucket{le="0.0005"}'] > 0
    assert second["looplab_threadpool_capacity_tokens"] == 4
    assert "looplab_threadpool_borrowed_tokens" in second
    assert "looplab_threadpool_waiting_tasks" in second
    assert 0 <= second["looplab_event_loop_utilization_ratio"] <= 1


def scrape(server: ServerProcess) -> dict[str, float]:
    response = httpx.get(server.url + "/metrics", timeout=30)
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items())
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples
