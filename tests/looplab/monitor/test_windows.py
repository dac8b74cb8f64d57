"""Named and private windows of one monitor."""

import pytest

from looplab.monitor import DEFAULT_WINDOW, LoopMonitor
from looplab.protocol import Blocker, Frame, Stall, WindowCounts


def stall(ms: float) -> Stall:
    return Stall(
        started_at="2026-01-01T00:00:00.000Z",
        duration_ms=ms,
        route="/x",
        blame=Frame(file="app.py", line=3, function="handler"),
        reason=None,
    )


def test_windows_record_independently_and_reset_alone() -> None:
    monitor = LoopMonitor()
    first, second = monitor.window("first"), monitor.window("second")
    private = monitor.open_window()
    for window in (first, second, private):
        window.record(200_000, 5_000)
        window.add_stall(stall(200))
    monitor.reset(first)
    assert (first.samples, first.stall_count, first.lag_ms().max) == (0, 0, 0.0)
    assert (second.samples, second.stall_count, second.lag_ms().max) == (1, 1, 200.0)
    assert second.top() == [
        Blocker(file="app.py", line=3, function="handler", count=1, total_ms=200.0, worst_ms=200.0)
    ]
    monitor.close_window(private)
    assert monitor.snapshot(second, "second").windows == WindowCounts(named=3, streams=0)


def test_corrected_percentiles_fill_in_the_stall() -> None:
    window = LoopMonitor().window()
    for _ in range(99):
        window.record(100, 5_000)
    window.record(1_000_000, 5_000)  # one tick a second late: ~200 probes would have waited
    lag = window.lag_ms()
    assert window.samples == 100
    assert lag.max == 1000.0
    assert lag.p50 > 100  # most moments of this second fell inside the stall
    assert lag.p99 > 900


def test_named_windows_are_bounded_and_keep_default() -> None:
    monitor = LoopMonitor()
    default = monitor.window(DEFAULT_WINDOW)
    for index in range(200):
        monitor.window(f"w{index}")
    assert monitor.window(DEFAULT_WINDOW) is default
    assert monitor.snapshot(default).windows.named == 32
    assert monitor.window("w199").samples == 0


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "slash/no"])
def test_bad_window_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid window name"):
        LoopMonitor().window(name)


def test_index_tables_match_hdrh_index_by_index() -> None:
    from looplab.monitor._window import _index_values, _new_histogram

    histogram = _new_histogram()
    highest, median = _index_values()
    for index in range(histogram.counts_len):
        value = histogram.get_value_from_index(index)
        assert highest[index] == histogram.get_highest_equivalent_value(value)
        assert median[index] == histogram._hdr_median_equiv_value(value)


def test_lag_figures_match_hdrh_own_answers() -> None:
    import random

    window = LoopMonitor().window()
    rng = random.Random(7)
    for _ in range(3000):
        window.record(int(rng.lognormvariate(5, 2)), 5_000)
    histogram = window._histogram
    lag = window.lag_ms()
    for name, percentile in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        assert getattr(lag, name) == round(histogram.get_value_at_percentile(percentile) / 1e3, 3)
    assert lag.mean == round(histogram.get_mean_value() / 1e3, 3)


@pytest.mark.parametrize("lag_us", [0, 1, 4_999, 5_000, 5_001, 12_345, 1_000_000, 10**12])
def test_recording_matches_hdrh_record_corrected_value(lag_us: int) -> None:
    from looplab.monitor._window import _new_histogram

    window = LoopMonitor().window()
    window.record(lag_us, 5_000)
    reference = _new_histogram()
    reference.record_corrected_value(min(lag_us, 3_600_000_000), 5_000)
    assert window._histogram.get_total_count() == reference.get_total_count()
    assert list(window._histogram.counts) == list(reference.counts)
    assert window._histogram.get_max_value() == reference.get_max_value()
