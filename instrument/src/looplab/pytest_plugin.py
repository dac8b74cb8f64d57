"""pytest plugin for looplab, registered through the ``pytest11`` entry point.

* The ``loop_monitor`` fixture: the lag of the test's event loop over the test's
  body, readable live while it runs (``loop_monitor.max_ms``, ``.worst_stall``...).
* A suite-wide gate: ``pytest --looplab-max-lag-ms=N`` (or the ini option
  ``looplab_max_lag_ms``) fails every async test whose loop stalled longer than
  N ms, naming the blamed line, the route and the kind; the terminal summary lists
  the run's top blockers. ``@pytest.mark.looplab_allow_stalls`` opts a test out,
  and stalls inside ``expect_blocking`` blocks are expected, so never judged.

Both work under every runner: AnyIO's plugin (asyncio, uvloop, trio) and
pytest-asyncio (any mode, any loop scope). Rather than an async fixture (which
each runner may run on a loop of its own), the test function itself is wrapped
just before it runs, so the measurement starts inside the test's own coroutine,
on whatever loop runs it. The setup and teardown of async fixtures is not measured.
"""

from __future__ import annotations

import functools
import inspect
from collections import Counter
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import pytest

from looplab._expected import expected_blocks
from looplab.protocol import MonitorSnapshot, Stall
from looplab.testing import LagMeasurement, measure_lag

__all__ = ["ALLOW_MARK", "loop_monitor"]

ALLOW_MARK = "looplab_allow_stalls"
_GATE_OPTION = "looplab_max_lag_ms"
_TOP_SHOWN = 10


class _Pending:
    """The fixture's reading before the test body starts (and for a test never measured)."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.measurement: LagMeasurement | None = None

    def read(self) -> MonitorSnapshot:
        if self.measurement is None:
            raise RuntimeError(
                f"loop_monitor has measured nothing yet: it measures the body of an async "
                f"test ({self.nodeid}) run by AnyIO's plugin or pytest-asyncio"
            )
        return self.measurement.snapshot


@dataclass
class _Blockers:
    """The run's blamed lines: count, worst stall and kinds, for the terminal summary."""

    seen: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, stall: Stall) -> None:
        where = str(stall.blame) if stall.blame is not None else f"(no blame: {stall.reason})"
        entry = self.seen.setdefault(where, [0, 0.0, Counter()])
        entry[0] += 1
        entry[1] = max(entry[1], stall.duration_ms)
        entry[2][stall.kind] += 1

    def lines(self) -> list[str]:
        ranked = sorted(self.seen.items(), key=lambda item: item[1][1], reverse=True)
        return [
            f"{count:>4} x  worst {worst:8.1f} ms  {kinds.most_common(1)[0][0]:<8} {where}"
            for where, (count, worst, kinds) in ranked[:_TOP_SHOWN]
        ]


@dataclass
class _Gate:
    max_lag_ms: float
    blockers: _Blockers = field(default_factory=_Blockers)


_GATE = pytest.StashKey[_Gate]()
_PENDING = pytest.StashKey[_Pending]()


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = (
        "fail every async test whose event loop stalled longer than this many ms "
        "(looplab's suite gate)"
    )
    group = parser.getgroup("looplab")
    group.addoption("--looplab-max-lag-ms", type=float, dest=_GATE_OPTION, help=help_text)
    parser.addini(_GATE_OPTION, help_text, default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{ALLOW_MARK}: looplab's suite gate does not judge this test's loop stalls"
    )
    raw = config.getoption(_GATE_OPTION)
    if raw is None:
        raw = config.getini(_GATE_OPTION)
        if raw == "":
            return
    try:
        max_lag_ms = float(raw)
    except ValueError:
        raise pytest.UsageError(f"{_GATE_OPTION} must be a number of ms, not {raw!r}") from None
    if max_lag_ms <= 0:
        raise pytest.UsageError(f"{_GATE_OPTION} must be positive, not {max_lag_ms:g}")
    config.stash[_GATE] = _Gate(max_lag_ms)


@pytest.fixture
def loop_monitor(request: pytest.FixtureRequest) -> LagMeasurement:
    """The test's event-loop lag: ``max_ms``, ``p99_ms``, ``stalls``, ``worst_stall``..."""
    pending = _Pending(request.node.nodeid)
    request.node.stash[_PENDING] = pending
    return LagMeasurement(pending.read)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    pending = item.stash.get(_PENDING, None)
    gate = item.config.stash.get(_GATE, None)
    if gate is not None and item.get_closest_marker(ALLOW_MARK) is not None:
        gate = None
    test = getattr(item, "obj", None)
    if (pending is None and gate is None) or not isinstance(item, pytest.Function):
        return (yield)
    if not inspect.iscoroutinefunction(test):
        if pending is not None:
            pytest.fail(
                f"loop_monitor measures async tests; {item.nodeid} is not one", pytrace=False
            )
        return (yield)
    item.obj = _measured(test, pending, gate)
    try:
        return (yield)
    finally:
        item.obj = test


def _measured(
    test: Callable[..., Awaitable[Any]], pending: _Pending | None, gate: _Gate | None
) -> Callable[..., Awaitable[Any]]:
    # The gate's N is also the stall threshold, so every stall it fails on has a blame.
    threshold = 50.0 if gate is None else gate.max_lag_ms

    @functools.wraps(test)
    async def measured(*args: Any, **kwargs: Any) -> Any:
        with expected_blocks() as expected:
            async with measure_lag(stall_threshold_ms=threshold) as measurement:
                if pending is not None:
                    pending.measurement = measurement
                result = await test(*args, **kwargs)
        if gate is not None:
            _judge(gate, measurement, expected)
        return result

    return measured


def _judge(gate: _Gate, measurement: LagMeasurement, expected: Callable[[Stall], bool]) -> None:
    over = [
        stall
        for stall in measurement.stalls
        if stall.duration_ms > gate.max_lag_ms and not expected(stall)
    ]
    for stall in over:
        gate.blockers.add(stall)
    if over:
        worst = max(over, key=lambda stall: stall.duration_ms)
        raise AssertionError(
            f"looplab: the event loop stalled {worst.duration_ms:.1f} ms > "
            f"{gate.max_lag_ms:g} ms ({len(over)} stall(s) over the gate)\n  {worst.describe()}"
        )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    gate = config.stash.get(_GATE, None)
    if gate is None:
        return
    lines = gate.blockers.lines()
    title = f"looplab: top blockers over {gate.max_lag_ms:g} ms"
    terminalreporter.write_sep("=", title)
    if not lines:
        terminalreporter.write_line("none: no async test stalled its loop past the gate")
    for line in lines:
        terminalreporter.write_line(line)
