"""What the suite gate costs: 1,000 trivial async tests with and without it.

    uv run python benchmarks/gate_overhead.py --tests 1000 --rounds 5

A scratch suite of trivial async tests (each awaits ``anyio.sleep(0)``) runs in a
pytest subprocess under AnyIO's plugin, alternately without the gate and with
``--looplab-max-lag-ms=100`` (which goes first alternates per round). It reports
the median time pytest says it took for each, and the gate's cost per test: the
monitor starts and stops around every test (a ticker, a watchdog thread).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SUITE = """
import anyio
import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.parametrize("n", range({tests}))
async def test_trivial(n):
    await anyio.sleep(0)
"""

_DURATION = re.compile(r"(\d+) passed in ([\d.]+)s")


def run(root: Path, gate: bool) -> float:
    """Seconds pytest reports for the suite."""
    args = ["--looplab-max-lag-ms=100"] if gate else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:locust",
         "-p", "no:asyncio", *args],
        cwd=root, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    found = _DURATION.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"the suite failed:\n{done.stdout}\n{done.stderr}")
    return float(found.group(2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1000, help="trivial async tests")
    parser.add_argument("--rounds", type=int, default=5, help="with/without pairs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "test_trivial.py").write_text(SUITE.format(tests=args.tests))
        (root / "pytest.ini").write_text("[pytest]\n")
        times: dict[bool, list[float]] = {False: [], True: []}
        for index in range(args.rounds):
            for gate in (False, True) if index % 2 == 0 else (True, False):
                times[gate].append(run(root, gate))
            print(
                f"round {index + 1}: without {times[False][-1]:.2f} s, with {times[True][-1]:.2f} s"
            )
    without, with_gate = statistics.median(times[False]), statistics.median(times[True])
    per_test_ms = (with_gate - without) / args.tests * 1e3
    print(
        f"{args.tests} trivial async tests: without the gate {without:.2f} s, with it "
        f"{with_gate:.2f} s (x{with_gate / without:.2f}, {per_test_ms:+.2f} ms per test)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
