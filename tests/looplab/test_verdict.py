import pytest

from looplab.verdict import Lag, family_verdicts, verdict


@pytest.mark.parametrize(
    ("lag", "cost_ms", "expected"),
    [
        (Lag(max_ms=290, p99_ms=280), 300, "blocks"),
        (Lag(max_ms=180, p99_ms=170), 300, "blocks"),
        (Lag(max_ms=170, p99_ms=20), 300, "responsive"),
        (Lag(max_ms=40, p99_ms=60), 300, "responsive"),
        (Lag(max_ms=100, p99_ms=76), 300, "degrades"),
        (Lag(max_ms=100, p99_ms=61), 3000, "degrades"),
        (Lag(max_ms=100, p99_ms=12), 40, "blocks"),
        (Lag(max_ms=20, p99_ms=11), 40, "degrades"),
        (Lag(max_ms=500, p99_ms=30), 0, "responsive"),
        (Lag(max_ms=500, p99_ms=90), 0, "degrades"),
    ],
)
def test_verdict_applies_the_absolute_rule(lag: Lag, cost_ms: float, expected: str) -> None:
    assert verdict(lag, cost_ms) == expected


def test_family_verdicts_orders_a_gil_bound_approach_between_its_neighbours() -> None:
    # The shape measured for the cpu family at 4 concurrent requests of 300 ms.
    lags = {
        "inline": Lag(max_ms=1200, p99_ms=1150),
        "asyncify": Lag(max_ms=300, p99_ms=280),
        "process": Lag(max_ms=8, p99_ms=6),
    }
    cost = dict.fromkeys(lags, 300.0)
    assert verdict(lags["asyncify"], 300) == "blocks"
    assert family_verdicts(lags, cost) == {
        "inline": "blocks",
        "asyncify": "degrades",
        "process": "responsive",
    }


def test_family_verdicts_keeps_two_comparable_stalls_blocking() -> None:
    lags = {"a": Lag(max_ms=1200, p99_ms=1100), "b": Lag(max_ms=1000, p99_ms=900)}
    assert family_verdicts(lags, {"a": 300, "b": 300}) == {"a": "blocks", "b": "blocks"}


def test_family_verdicts_compares_stalls_relative_to_each_cost() -> None:
    # 600 ms of stall on 600 ms of cost is as bad as 300 on 300.
    lags = {"a": Lag(max_ms=300, p99_ms=290), "b": Lag(max_ms=600, p99_ms=590)}
    assert family_verdicts(lags, {"a": 300, "b": 600}) == {"a": "blocks", "b": "blocks"}


def test_family_verdicts_without_a_blocking_entry_is_the_absolute_rule() -> None:
    lags = {"a": Lag(max_ms=10, p99_ms=5), "b": Lag(max_ms=150, p99_ms=100)}
    assert family_verdicts(lags, {"a": 300, "b": 300}) == {"a": "responsive", "b": "degrades"}


def test_family_verdicts_rejects_mismatched_names() -> None:
    with pytest.raises(ValueError, match="same entries"):
        family_verdicts({"a": Lag(1, 1)}, {"b": 300})
