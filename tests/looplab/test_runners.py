"""The runner matrix: every helper measures the loop its test runs on, in every runner.

One pytest subprocess per runner runs a scratch project of cells, helper x outcome:
a test that blocks its loop 200 ms must fail (``expect_blocking``: pass), and a
clean one, which awaits for 200 ms, must pass (``expect_blocking``: fail) after
proving it measured. A failure must come from the helper, named by its message:
a check that fails for the wrong reason, or passes without measuring, is the bug
this matrix exists to catch. Runs use ``-W error``: no runner may warn.
"""

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.timing

# What each helper's failure says, so a cell cannot fail for another reason.
NOT_RESPONSIVE = "event loop was not responsive"
NOT_BLOCKED = "expected the event loop to block"
LIVE_READ = "assert"  # measure_lag and loop_monitor: the cell's own live-read assertion
GATE = "looplab: the event loop stalled"

CELLS = """
import time

import anyio
import pytest

from looplab.testing import assert_responsive, expect_blocking, measure_lag

BLOCK_S = 0.2
allowed = pytest.mark.looplab_allow_stalls  # the helper, not the suite gate, decides


def block():
    time.sleep(BLOCK_S)  # noqa: ASYNC251 (the block under test)


@allowed
async def test_measure_lag__blocking():
    async with measure_lag() as lag:
        block()
        assert lag.max_ms < 100, "live read: " + lag.describe()  # read right after the block


@allowed
async def test_measure_lag__clean():
    async with measure_lag() as lag:
        await anyio.sleep(BLOCK_S)
        assert lag.samples > 10 and lag.max_ms < 100, lag.describe()


@allowed
async def test_assert_responsive__blocking():
    async with assert_responsive(max_lag_ms=100):
        block()


@allowed
async def test_assert_responsive__clean():
    async with assert_responsive(max_lag_ms=100) as lag:
        await anyio.sleep(BLOCK_S)
    assert lag.samples > 10


# Not marked: the gate must leave an expected block alone.
async def test_expect_blocking__blocking():
    async with expect_blocking(min_lag_ms=100) as lag:
        block()
    assert lag.worst_stall is not None and lag.worst_stall.kind == "wait"


async def test_expect_blocking__clean():
    async with expect_blocking(min_lag_ms=100):
        await anyio.sleep(BLOCK_S)
"""

FIXTURE_CELLS = """

@allowed
async def test_loop_monitor__blocking(loop_monitor):
    block()
    assert loop_monitor.max_ms < 100, "live read: " + loop_monitor.describe()


@allowed
async def test_loop_monitor__clean(loop_monitor):
    await anyio.sleep(BLOCK_S)
    assert loop_monitor.samples > 10 and loop_monitor.max_ms < 100, loop_monitor.describe()


async def test_gate__blocking():
    block()


async def test_gate__clean():
    await anyio.sleep(BLOCK_S)
"""

# Plain asyncio.run: the same cells, each run from a sync test.
ASYNCIO_RUN = """

import asyncio

_cells = {name: cell for name, cell in dict(globals()).items() if name.startswith("test_")}
for _name, _cell in _cells.items():
    globals()[_name] = (lambda cell: lambda: asyncio.run(cell()))(_cell)
"""

# helper -> (failure message expected of the blocking cell, of the clean cell)
EXPECTED = {
    "measure_lag": ("live read", None),
    "assert_responsive": (NOT_RESPONSIVE, None),
    "expect_blocking": (None, NOT_BLOCKED),
    "loop_monitor": ("live read", None),
    "gate": (GATE, None),
}


@dataclass(frozen=True)
class Runner:
    name: str
    header: str  # module-level marks and fixtures of the cells file
    ini: str
    args: tuple[str, ...] = ()
    fixtures: bool = True  # loop_monitor and the gate need a pytest runner of async tests


ANYIO_ARGS = ("-p", "no:asyncio")


def _anyio(backend: str) -> str:
    fixture = f"@pytest.fixture\ndef anyio_backend():\n    return {backend}\n"
    return f"pytestmark = pytest.mark.anyio\n\n\n{fixture}"


RUNNERS = [
    Runner("anyio-asyncio", _anyio('"asyncio"'), "", ANYIO_ARGS),
    Runner("anyio-uvloop", _anyio('("asyncio", {"use_uvloop": True})'), "", ANYIO_ARGS),
    Runner("anyio-trio", _anyio('"trio"'), "", ANYIO_ARGS),
    Runner("pytest-asyncio-auto", "", "asyncio_mode = auto\n"),
    Runner(
        "pytest-asyncio-strict", "pytestmark = pytest.mark.asyncio\n", "asyncio_mode = strict\n"
    ),
    Runner(
        "pytest-asyncio-module",
        'pytestmark = pytest.mark.asyncio(loop_scope="module")\n',
        "asyncio_mode = strict\n",
    ),
    Runner(
        "pytest-asyncio-session",
        'pytestmark = pytest.mark.asyncio(loop_scope="session")\n',
        "asyncio_mode = auto\nasyncio_default_test_loop_scope = session\n",
    ),
    Runner("asyncio.run", "", "", ("-p", "no:asyncio"), fixtures=False),
]


def _write_project(root: Path, runner: Runner) -> None:
    cells = CELLS + (FIXTURE_CELLS if runner.fixtures else ASYNCIO_RUN)
    module = cells.replace("allowed = pytest.mark", runner.header + "\n\nallowed = pytest.mark", 1)
    (root / "test_cells.py").write_text(textwrap.dedent(module))
    ini = "[pytest]\n" + runner.ini
    if "asyncio_mode" in runner.ini:
        # pytest-asyncio warns (an error under -W error) unless this is set, as its docs ask.
        ini += "asyncio_default_fixture_loop_scope = function\n"
    if runner.fixtures:
        ini += "looplab_max_lag_ms = 100\n"
    (root / "pytest.ini").write_text(ini)


def _run(root: Path, runner: Runner) -> dict[str, str | None]:
    """Run the cells; each test's failure message, or None if it passed."""
    report = root / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:locust",
         "-W", "error", "-q", f"--junitxml={report}", *runner.args],
        cwd=root, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    if not report.exists():
        return {"run": f"pytest did not run:\n{done.stdout}\n{done.stderr}"}
    outcomes: dict[str, str | None] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if case.find("skipped") is not None:
            outcomes[case.attrib["name"]] = "skipped"
        else:
            outcomes[case.attrib["name"]] = None if problem is None else problem.attrib["message"]
    if "warning" in done.stdout.lower():
        outcomes["run"] = f"warned:\n{done.stdout}"
    return outcomes


def _verdicts(runner: Runner, outcomes: dict[str, str | None]) -> dict[str, str]:
    """helper__outcome -> "ok" or what went wrong."""
    verdicts = {"run": outcomes["run"]} if "run" in outcomes else {}
    for helper, (when_blocking, when_clean) in EXPECTED.items():
        if helper in ("loop_monitor", "gate") and not runner.fixtures:
            continue
        for outcome, expected in (("blocking", when_blocking), ("clean", when_clean)):
            got = outcomes.get(f"test_{helper}__{outcome}", "missing")
            if expected is None:
                verdicts[f"{helper}__{outcome}"] = "ok" if got is None else f"failed: {got}"
            elif got is None:
                verdicts[f"{helper}__{outcome}"] = "passed, but must fail"
            else:
                right = expected in got
                verdicts[f"{helper}__{outcome}"] = "ok" if right else f"wrong failure: {got}"
    return verdicts


def _grid(results: dict[str, dict[str, str]]) -> str:
    cells = [f"{helper}__{outcome}" for helper in EXPECTED for outcome in ("blocking", "clean")]

    def mark(verdicts: dict[str, str], cell: str) -> str:
        return "-" if cell not in verdicts else ("ok" if verdicts[cell] == "ok" else "WRONG")

    lines = [f"{'runner':<24}" + "".join(f"{cell.replace('__', ' '):>24}" for cell in cells)]
    for runner, verdicts in results.items():
        lines.append(f"{runner:<24}" + "".join(f"{mark(verdicts, c):>24}" for c in cells))
    return "\n".join(lines)


def test_every_helper_measures_the_loop_of_every_runner(tmp_path: Path) -> None:
    results: dict[str, dict[str, str]] = {}
    for runner in RUNNERS:
        root = tmp_path / runner.name
        root.mkdir()
        _write_project(root, runner)
        results[runner.name] = _verdicts(runner, _run(root, runner))
    print("\n" + _grid(results))
    wrong = {
        f"{runner} {cell}": verdict
        for runner, verdicts in results.items()
        for cell, verdict in verdicts.items()
        if verdict != "ok"
    }
    assert not wrong, "\n".join(f"{cell}: {verdict}" for cell, verdict in wrong.items())
