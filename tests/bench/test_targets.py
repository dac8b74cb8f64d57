"""The targets computed from runs already made: separation at 32, isolation at 8."""

from app.bench.targets import isolation, separation
from app.catalogue import by_id
from looplab.protocol import (
    BenchResults,
    BenchSettings,
    IdleRecord,
    Percentiles,
    RunMeta,
    RunRecord,
    ServerLag,
    Trace,
    WorkPercentiles,
)

NO_TRACE = Trace(t_s=[], probe_ms=[])


def probe(p99: float) -> Percentiles:
    return Percentiles(p50=p99 / 2, p90=p99, p99=p99, max=p99)


def run(entry_id: str, concurrency: int, probe_p99: float) -> RunRecord:
    entry = by_id(entry_id)
    return RunRecord(
        id=entry.id,
        family=entry.family,
        approach=entry.approach,
        expect=entry.expect,
        concurrency=concurrency,
        duration_s=2.0,
        requests=100,
        errors=0,
        throughput_rps=50.0,
        mb_per_s=0.0,
        work_ms=WorkPercentiles(p50=300.0, p99=310.0, max=320.0),
        probe_ms=probe(probe_p99),
        lag_ms=ServerLag(p99=None, max=None),
        threadpool_peak_borrowed=None,
        stalls=None,
        top_blocker=None,
        verdict=entry.expect,
        agrees=True,
        verdict_source="probe",
        cost_ms=entry.cost_ms,
        trace=NO_TRACE,
    )


RUNS = [
    run("read.inline", 32, 3000.0),
    run("read.asyncify", 32, 12.0),
    run("read.threadpool", 32, 20.0),
    run("read.inline", 8, 900.0),
    run("read.asyncify", 8, 3.0),
    run("read.threadpool", 8, 5.0),
]


def results(runs: list[RunRecord], idle_p99: float = 2.0) -> BenchResults:
    meta = RunMeta(
        versions={},
        loop="asyncio",
        workers=1,
        cpu_count=2,
        platform="test",
        date="2025-01-01T00:00:00Z",
        settings=BenchSettings(concurrency=(8, 32)),
        server="test",
        monitor=False,
    )
    idle = IdleRecord(
        probe_ms=Percentiles(p50=1.0, p90=1.5, p99=idle_p99, max=3.0),
        lag_ms=ServerLag(p99=None, max=None),
        trace=NO_TRACE,
    )
    return BenchResults(meta=meta, idle=idle, runs=runs)


def test_separation_uses_the_best_offloaded_entry() -> None:
    target = separation(RUNS)
    assert target.line == "separation: 250x (≥ 100x at 32 concurrent)"
    assert target.model_dump()["line"] == target.line
    assert target.met is True
    assert "read.asyncify" in target.detail


def test_separation_below_100x_is_missed() -> None:
    runs = [run("read.inline", 32, 500.0), run("read.asyncify", 32, 10.0)]
    target = separation(runs)
    assert (target.value, target.met) == ("50x", False)


def test_separation_needs_runs_at_32() -> None:
    target = separation([r for r in RUNS if r.concurrency != 32])
    assert (target.value, target.met) == ("not measured", None)


def test_isolation_names_each_responsive_entry_over_twice_the_idle_floor() -> None:
    at_8, at_32 = isolation(results(RUNS))
    assert at_8.met is False  # read.threadpool: 5 ms is 2.5x the 2 ms floor
    assert at_8.value == "worst 2.5x (read.threadpool)"
    assert "over: read.threadpool 2.5x" in at_8.detail
    assert "read.asyncify" not in at_8.detail.split("over:")[1]
    assert at_32.met is None  # reported, never targeted


def test_isolation_is_met_when_every_responsive_entry_stays_within_twice_idle() -> None:
    at_8, _ = isolation(results(RUNS, idle_p99=3.0))
    assert at_8.met is True
    assert "over:" not in at_8.detail


def test_isolation_needs_runs_at_8() -> None:
    at_8, at_32 = isolation(results([r for r in RUNS if r.concurrency != 8]))
    assert (at_8.value, at_8.met) == ("not measured", None)
    assert (at_32.value, at_32.met) == ("worst 10.0x (read.threadpool)", None)
