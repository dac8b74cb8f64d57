"""The targets computed from runs already made: separation at 32, isolation at 8."""

from typing import Any

from looplab.bench.targets import Targets


def run(entry_id: str, concurrency: int, probe_p99: float, expect: str) -> dict[str, Any]:
    family, approach = entry_id.split(".")
    return {
        "id": entry_id,
        "family": family,
        "approach": approach,
        "expect": expect,
        "concurrency": concurrency,
        "probe_ms": {"p50": probe_p99 / 2, "p90": probe_p99, "p99": probe_p99, "max": probe_p99},
    }


RUNS = [
    run("read.inline", 32, 3000.0, "blocks"),
    run("read.asyncify", 32, 12.0, "responsive"),
    run("read.threadpool", 32, 20.0, "responsive"),
    run("read.inline", 8, 900.0, "blocks"),
    run("read.asyncify", 8, 3.0, "responsive"),
    run("read.threadpool", 8, 5.0, "responsive"),
]
RESULTS = {"idle": {"probe_ms": {"p50": 1.0, "p90": 1.5, "p99": 2.0, "max": 3.0}}, "runs": RUNS}


def targets() -> Targets:
    return Targets(bench=None)  # type: ignore[arg-type]  # these two read results only


def test_separation_uses_the_best_offloaded_entry() -> None:
    found = targets().separation(RUNS).to_dict()
    assert found["line"] == "separation: 250x (≥ 100x at 32 concurrent)"
    assert found["met"] is True
    assert "read.asyncify" in found["detail"]


def test_separation_needs_runs_at_32() -> None:
    found = targets().separation([r for r in RUNS if r["concurrency"] != 32])
    assert (found.value, found.met) == ("not measured", None)


def test_isolation_names_each_responsive_entry_over_twice_the_idle_floor() -> None:
    at_8, at_32 = targets().isolation(RESULTS)
    assert at_8.met is False  # read.threadpool: 5 ms is 2.5x the 2 ms floor
    assert at_8.value == "worst 2.5x (read.threadpool)"
    assert "over: read.threadpool 2.5x" in at_8.detail
    assert "read.asyncify" not in at_8.detail.split("over:")[1]
    assert at_32.met is None  # reported, never targeted
