"""The suite gate: ``--looplab-max-lag-ms`` fails the async tests that stalled their loop.

Run on a scratch project in a pytest subprocess, as a user's suite would run.
The runner matrix (test_runners.py) shows the gate under every runner; this file
shows what it says: the blamed line, the route and the kind, and the summary.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timing

SUITE = """
import time

import anyio
import httpx
import pytest
from fastapi import FastAPI

from looplab.monitor import instrument
from looplab.testing import expect_blocking

pytestmark = pytest.mark.anyio
app = FastAPI()


@pytest.fixture
def anyio_backend():
    return "asyncio"


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> int:
    time.sleep(0.2)  # BLOCKING LINE
    return item_id


instrument(app)


async def test_blocking_route():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/items/3")).json() == 3


@pytest.mark.looplab_allow_stalls
async def test_opted_out():
    time.sleep(0.2)


async def test_expected_block():
    async with expect_blocking(min_lag_ms=100):
        time.sleep(0.2)


async def test_clean():
    await anyio.sleep(0.2)


def test_sync_tests_are_not_judged():
    time.sleep(0.2)
"""


def run_suite(tmp_path: Path, *args: str, ini: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(SUITE))
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + ini)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:locust",
         "-p", "no:asyncio", "-W", "error", "-rA", *args],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def blocking_line(tmp_path: Path) -> int:
    lines = (tmp_path / "test_suite.py").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if "BLOCKING LINE" in line)


def test_the_gate_fails_the_blocking_test_naming_line_route_and_kind(tmp_path: Path) -> None:
    done = run_suite(tmp_path, "--looplab-max-lag-ms=100")
    out = done.stdout
    assert done.returncode == 1, out
    assert "1 failed, 4 passed" in out
    assert "FAILED test_suite.py::test_blocking_route" in out
    assert "looplab: the event loop stalled" in out
    where = f"test_suite.py:{blocking_line(tmp_path)} in read_item"
    assert where in out
    assert "wait stall" in out
    assert "route /items/{item_id}" in out
    # The summary: the run's top blockers, one line each, with count, worst and kind.
    summary = out.split("looplab: top blockers over 100 ms", 1)[1]
    first = summary.splitlines()[1]
    assert "1 x" in first and "wait" in first and where in first, summary


def test_the_ini_option_sets_the_gate_too(tmp_path: Path) -> None:
    done = run_suite(tmp_path, ini="looplab_max_lag_ms = 100\n")
    assert done.returncode == 1, done.stdout
    assert "1 failed, 4 passed" in done.stdout


def test_without_the_gate_nothing_is_judged(tmp_path: Path) -> None:
    done = run_suite(tmp_path)
    assert done.returncode == 0, done.stdout
    assert "top blockers" not in done.stdout


def test_a_clean_run_says_so(tmp_path: Path) -> None:
    done = run_suite(tmp_path, "--looplab-max-lag-ms=100", "-k", "clean")
    assert done.returncode == 0, done.stdout
    assert "none: no async test stalled its loop past the gate" in done.stdout


@pytest.mark.parametrize("value", ["soon", "-5", "0"])
def test_a_bad_gate_is_a_usage_error(tmp_path: Path, value: str) -> None:
    done = run_suite(tmp_path, f"--looplab-max-lag-ms={value}")
    assert done.returncode == 4, done.stdout + done.stderr
