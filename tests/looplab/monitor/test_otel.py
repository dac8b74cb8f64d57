"""The OpenTelemetry exporter, read back through the SDK's in-memory reader.

Every test makes its own meter provider: the global one is never set.
"""

import gc
import importlib
import importlib.metadata
import logging
import sys
import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric

from looplab.monitor import _otel
from looplab.monitor._otel import (
    HTTP_ROUTE,
    LAG,
    LAG_BUCKETS,
    LOOP_NAME,
    STALL_KIND,
    STALL_TIME,
    STALLS,
    THREADPOOL_LIMIT,
    THREADPOOL_USAGE,
    THREADPOOL_WAITING,
    UTILIZATION,
    OtelExporter,
)
from looplab.monitor._threadpool import ThreadPoolReading

GAUGES = (UTILIZATION, THREADPOOL_LIMIT, THREADPOOL_USAGE, THREADPOOL_WAITING)


@dataclass
class Otel:
    provider: MeterProvider
    reader: InMemoryMetricReader

    def collect(self) -> dict[str, Metric]:
        """Collect once (observable instruments call their sources now), by metric name."""
        data = self.reader.get_metrics_data()
        if data is None:
            return {}
        found: dict[str, Metric] = {}
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                assert scope_metrics.scope.name == "looplab"
                for metric in scope_metrics.metrics:
                    assert metric.name not in found, f"{metric.name} exported twice"
                    found[metric.name] = metric
        return found


def points(metric: Metric) -> dict[frozenset[tuple[str, Any]], Any]:
    """A metric's data points, by their attributes."""
    return {frozenset((point.attributes or {}).items()): point for point in metric.data.data_points}


def loop(name: str, **more: str) -> frozenset[tuple[str, Any]]:
    return frozenset({LOOP_NAME: name, **more}.items())


def reading(
    total: int = 40, borrowed: int = 0, waiting: int = 0, utilization: float | None = None
) -> Callable[[], tuple[ThreadPoolReading, float | None]]:
    return lambda: (ThreadPoolReading(total, borrowed, waiting), utilization)


@pytest.fixture
def otel() -> Iterator[Otel]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    yield Otel(provider, reader)
    provider.shutdown()


@pytest.mark.parametrize(
    ("lag_s", "recorded"),
    [
        pytest.param(0.0003, [0.0003], id="healthy"),
        pytest.param(0.009, [0.009], id="under-two-intervals"),
        pytest.param(0.0182, [0.0182, 0.0132, 0.0082], id="two-ticks-swallowed"),
        pytest.param(-1e-9, [0.0], id="early-tick"),
    ],
)
def test_lag_histogram_backfills_swallowed_ticks(
    otel: Otel, lag_s: float, recorded: list[float]
) -> None:
    OtelExporter(otel.provider, loop="main").observe_lag(lag_s, 0.005)

    lag = otel.collect()[LAG]
    assert lag.unit == "s"
    point = points(lag)[loop("main")]
    assert tuple(point.explicit_bounds) == LAG_BUCKETS
    assert point.count == len(recorded)
    assert point.sum == pytest.approx(sum(recorded))
    expected = [0] * (len(LAG_BUCKETS) + 1)
    for value in recorded:  # OTel buckets are (lower, upper]
        expected[bisect_left(LAG_BUCKETS, value)] += 1
    assert list(point.bucket_counts) == expected


def test_stalls_counted_by_kind_and_route(otel: Otel) -> None:
    exporter = OtelExporter(otel.provider, loop="main")
    exporter.observe_stall(0.2, "cpu", "/items/{id}")
    exporter.observe_stall(0.3, "cpu", "/items/{id}")
    exporter.observe_stall(0.1, "wait", None)

    collected = otel.collect()
    in_request = loop("main", **{STALL_KIND: "cpu", HTTP_ROUTE: "/items/{id}"})
    outside = loop("main", **{STALL_KIND: "wait"})  # no http.route at all, not an empty one
    stalls = points(collected[STALLS])
    assert stalls.keys() == {in_request, outside}
    assert (stalls[in_request].value, stalls[outside].value) == (2, 1)
    assert collected[STALLS].unit == "{stall}"
    time = points(collected[STALL_TIME])
    assert time[in_request].value == pytest.approx(0.5)
    assert time[outside].value == pytest.approx(0.1)
    assert collected[STALL_TIME].unit == "s"


def test_stall_of_unknown_kind_is_refused(otel: Otel) -> None:
    with pytest.raises(ValueError, match="unknown stall kind 'blocked'"):
        OtelExporter(otel.provider, loop="main").observe_stall(0.1, "blocked", None)  # type: ignore[arg-type]


def test_gauges_report_what_watch_reads_at_collection(otel: Otel) -> None:
    figures = {"borrowed": 3}
    exporter = OtelExporter(otel.provider, loop="main")
    exporter.watch(lambda: (ThreadPoolReading(40, figures["borrowed"], 1), 0.25))

    collected = otel.collect()
    values = {name: points(collected[name])[loop("main")].value for name in GAUGES}
    assert values == {
        UTILIZATION: 0.25,
        THREADPOOL_LIMIT: 40,
        THREADPOOL_USAGE: 3,
        THREADPOOL_WAITING: 1,
    }
    assert [collected[name].unit for name in GAUGES] == ["1", "{token}", "{token}", "{task}"]

    figures["borrowed"] = 7  # read again on the next collection, not remembered
    assert points(otel.collect()[THREADPOOL_USAGE])[loop("main")].value == 7


def test_utilization_none_is_not_reported(otel: Otel, caplog: pytest.LogCaptureFixture) -> None:
    # uvloop and trio: the loop cannot be timed, so there is no figure rather than a made-up one.
    # The untimed loop comes first: an observation of None would fail the SDK's callback
    # from there on (and log an error), hiding the timed loop too.
    caplog.set_level(logging.WARNING)
    OtelExporter(otel.provider, loop="uvloop").watch(reading(utilization=None))
    OtelExporter(otel.provider, loop="timed").watch(reading(utilization=0.5))

    collected = otel.collect()
    assert points(collected[UTILIZATION]).keys() == {loop("timed")}
    assert points(collected[THREADPOOL_LIMIT]).keys() == {loop("timed"), loop("uvloop")}
    assert not caplog.records


def test_two_loops_share_instruments_and_differ_by_name(
    otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    main = OtelExporter(otel.provider, loop="main")
    worker = OtelExporter(otel.provider, loop="worker")
    main.observe_lag(0.0003, 0.005)
    worker.observe_lag(0.0182, 0.005)
    main.watch(reading(borrowed=1, utilization=0.1))
    worker.watch(reading(borrowed=2, utilization=0.2))

    collected = otel.collect()  # also asserts that each name is exported once
    lag = points(collected[LAG])
    assert (lag[loop("main")].count, lag[loop("worker")].count) == (1, 3)
    usage = points(collected[THREADPOOL_USAGE])
    assert (usage[loop("main")].value, usage[loop("worker")].value) == (1, 2)
    # A second set of instruments would make the SDK warn about duplicates.
    assert not [record for record in caplog.records if record.name.startswith("opentelemetry")]


def test_close_stops_only_that_loops_gauges(otel: Otel) -> None:
    main = OtelExporter(otel.provider, loop="main")
    worker = OtelExporter(otel.provider, loop="worker")
    for exporter in (main, worker):
        exporter.watch(reading(utilization=0.5))
        exporter.observe_lag(0.0003, 0.005)
    assert points(otel.collect()[THREADPOOL_LIMIT]).keys() == {loop("main"), loop("worker")}

    worker.close()
    worker.close()  # twice is fine

    collected = otel.collect()
    for name in GAUGES:
        assert points(collected[name]).keys() == {loop("main")}, name
    # The lag histogram is cumulative: the stopped loop's ticks still count.
    assert points(collected[LAG]).keys() == {loop("main"), loop("worker")}


def test_a_loop_name_is_watched_by_one_exporter_at_a_time(otel: Otel) -> None:
    first = OtelExporter(otel.provider, loop="main")
    first.watch(reading(total=10))
    first.watch(reading(total=20))  # the same exporter may replace its source
    second = OtelExporter(otel.provider, loop="main")
    with pytest.raises(ValueError, match="already watched"):
        second.watch(reading(total=30))
    second.close()  # not its source: leaves the first one alone
    assert points(otel.collect()[THREADPOOL_LIMIT])[loop("main")].value == 20

    first.close()  # a restarted monitor
    second.watch(reading(total=30))
    assert points(otel.collect()[THREADPOOL_LIMIT])[loop("main")].value == 30


def test_a_failing_source_hides_only_its_loop(otel: Otel, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> tuple[ThreadPoolReading, float | None]:
        raise RuntimeError("no limiter")

    OtelExporter(otel.provider, loop="main").watch(reading(total=40))
    OtelExporter(otel.provider, loop="broken").watch(broken)

    with caplog.at_level(logging.ERROR, logger=_otel.__name__):
        collected = otel.collect()
    assert points(collected[THREADPOOL_LIMIT]).keys() == {loop("main")}
    assert "'broken'" in caplog.text


def test_default_provider_is_the_global_one(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: otel.provider)
    OtelExporter(loop="main").observe_lag(0.0003, 0.005)
    assert points(otel.collect()[LAG]).keys() == {loop("main")}


def test_a_dropped_provider_frees_its_instruments() -> None:
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
    OtelExporter(provider, loop="main").watch(reading())
    provider.shutdown()
    dropped = weakref.ref(provider)
    del provider
    gc.collect()
    assert dropped() is None


def _import_otel_module(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh import of the module; the original comes back when the test ends.
    monkeypatch.delitem(sys.modules, _otel.__name__)
    importlib.import_module(_otel.__name__)


def test_missing_api_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name.split(".")[0] == "opentelemetry"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ImportError, match=r"pip install 'looplab\[otel\]'.*opentelemetry"):
        _import_otel_module(monkeypatch)


def test_old_api_names_the_version_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        return "1.29.0" if name == "opentelemetry-api" else real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(
        ImportError, match=r"looplab\[otel\].*opentelemetry-api>=1\.31, found 1\.29"
    ):
        _import_otel_module(monkeypatch)


# -- wired into instrument() -------------------------------------------------------------------


@pytest.mark.anyio
async def test_instrument_exports_stalls_by_kind_and_route_template(otel: Otel) -> None:
    import time

    import httpx
    from fastapi import FastAPI, Request, Response

    from looplab.monitor import instrument

    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> int:
        time.sleep(0.1)  # noqa: ASYNC251 (the stall under test)
        return item_id

    @app.middleware("http")
    async def before_routing(request: Request, call_next: Any) -> Response:
        if request.url.path == "/raw/42":
            time.sleep(0.1)  # noqa: ASYNC251 (a stall before routing: no template yet)
        response: Response = await call_next(request)
        return response

    instrument(app, meter_provider=otel.provider, metrics=False)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        assert (await client.get("/items/3")).status_code == 200
        assert (await client.get("/raw/42")).status_code == 404
        collected = otel.collect()
    stalls = {
        frozenset((k, v) for k, v in key if k != LOOP_NAME): point.value
        for key, point in points(collected[STALLS]).items()
    }
    # A raw path never becomes a label: the stall before routing has no http.route.
    assert stalls == {
        frozenset({(STALL_KIND, "wait"), (HTTP_ROUTE, "/items/{item_id}")}): 1,
        frozenset({(STALL_KIND, "wait")}): 1,
    }
    (lag,) = points(collected[LAG]).values()
    assert lag.count > 10
    assert {dict(key)[LOOP_NAME] for key in points(collected[THREADPOOL_LIMIT])} == {
        "asyncio:MainThread"
    }
