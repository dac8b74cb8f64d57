"""The results schema catches what a consumer of results.json would trip on."""

import copy
from typing import Any

from looplab.bench.results import SCHEMA_VERSION, validate

RUN: dict[str, Any] = {
    "id": "read.inline",
    "family": "read",
    "approach": "inline",
    "expect": "blocks",
    "concurrency": 8,
    "duration_s": 2.0,
    "requests": 6,
    "errors": 0,
    "throughput_rps": 3.0,
    "mb_per_s": 3.1,
    "work_ms": {"p50": 900.0, "p99": 1800.0, "max": 1800.0},
    "probe_ms": {"p50": 900.0, "p90": 1500.0, "p99": 1800.0, "max": 1810.0},
    "lag_ms": {"p99": 1790.0, "max": 1805.0},
    "threadpool_peak_borrowed": 0,
    "stalls": {"count": 6, "total_ms": 1800.0},
    "top_blocker": {"file": "app/work.py", "line": 12, "function": "read"},
    "verdict": "blocks",
    "agrees": True,
}
RESULTS: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "meta": {
        "versions": dict.fromkeys(
            ["python", "fastapi", "starlette", "anyio", "asyncer", "uvicorn"], "1"
        ),
        "loop": "uvloop",
        "workers": 1,
        "cpu_count": 2,
        "platform": "Linux",
        "date": "2026-11-24T23:00:00+00:00",
        "settings": {},
    },
    "idle": {
        "probe_ms": {"p50": 1.0, "p90": 1.5, "p99": 2.0, "max": 3.0},
        "lag_ms": {"p99": None, "max": None},
    },
    "runs": [RUN],
}


def test_a_conforming_document_passes() -> None:
    assert validate(RESULTS) == []


def test_server_figures_may_be_null() -> None:
    results = copy.deepcopy(RESULTS)
    run = results["runs"][0]
    run.update(lag_ms={"p99": None, "max": None}, threadpool_peak_borrowed=None, stalls=None)
    run["top_blocker"] = None
    assert validate(results) == []


def test_each_departure_is_named() -> None:
    results = copy.deepcopy(RESULTS)
    del results["runs"][0]["probe_ms"]["p99"]
    results["runs"][0]["requests"] = True  # a bool is not a count
    results["runs"][0]["verdict"] = "slow"
    results["runs"][0]["top_blocker"] = {"file": "x"}
    results["meta"]["versions"].pop("anyio")
    results["schema_version"] = 99
    problems = validate(results)
    assert "runs[0].probe_ms.p99: missing" in problems
    assert any(p.startswith("runs[0].requests: expected int") for p in problems)
    assert any(p.startswith("runs[0].verdict: not one of") for p in problems)
    assert any(p.startswith("runs[0].top_blocker") for p in problems)
    assert "meta.versions.anyio: missing" in problems
    assert "schema_version: expected 1" in problems


def test_not_an_object() -> None:
    assert validate([]) == ["results: expected an object"]
