"""/metrics follows Prometheus' conventions: promtool says so, and OpenMetrics on request."""

import subprocess
import time
from typing import get_args

import anyio
import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from looplab.monitor import LoopMonitor, instrument
from looplab.protocol import StallKind
from tests.utils.tools import required_tool

pytestmark = pytest.mark.anyio

NAMES = {
    "looplab_event_loop_lag_seconds": "histogram",
    "looplab_event_loop_stalls": "counter",
    "looplab_event_loop_stall_seconds": "counter",
    "looplab_threadpool_capacity_tokens": "gauge",
    "looplab_threadpool_borrowed_tokens": "gauge",
    "looplab_threadpool_waiting_tasks": "gauge",
    "looplab_event_loop_utilization_ratio": "gauge",
}


async def _exposition(openmetrics: bool) -> tuple[str, str]:
    from fastapi import FastAPI

    app = FastAPI()
    monitor = instrument(app, metrics=True, stall_threshold_ms=20)
    assert isinstance(monitor, LoopMonitor)
    headers = {"accept": "application/openmetrics-text; version=1.0.0"} if openmetrics else {}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        await anyio.sleep(0.05)
        time.sleep(0.05)  # noqa: ASYNC251 (a stall, so every metric has a value)
        await anyio.sleep(0.05)
        response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200
    return response.text, response.headers["content-type"]


async def test_promtool_accepts_the_metrics() -> None:
    promtool = required_tool(
        "promtool", "Debian's prometheus package ships it; .ci/run installs it"
    )
    text, content_type = await _exposition(openmetrics=False)
    assert content_type.startswith("text/plain")
    checked = subprocess.run(  # noqa: ASYNC221 (the test has nothing else to do meanwhile)
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # promtool also lints: it prints problems even for names it accepts.
    assert not (checked.stdout + checked.stderr).strip(), checked.stdout + checked.stderr


async def test_openmetrics_on_request_with_the_documented_names() -> None:
    text, content_type = await _exposition(openmetrics=True)
    assert content_type.startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert {name: families[name].type for name in NAMES} == NAMES
    stalls = families["looplab_event_loop_stalls"]
    totals = [s for s in stalls.samples if s.name.endswith("_total")]
    assert {s.name for s in totals} == {"looplab_event_loop_stalls_total"}
    # One series per kind, all there from the start; the time.sleep above is a "wait".
    assert {s.labels["kind"]: s.value for s in totals}.keys() == set(get_args(StallKind))
    assert sum(s.value for s in totals) >= 1


async def test_counters_alone_carry_total() -> None:
    text, _ = await _exposition(openmetrics=False)
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            _, _, name, kind = line.split()
            assert name.endswith("_total") == (kind == "counter"), line
