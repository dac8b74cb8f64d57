"""benchmarks/locustfile.py, run by locust itself against a live uvicorn.

Locust monkey-patches the standard library with gevent when it is imported, so
it only ever runs here as a subprocess; its figures are read back from the
summary it prints when it stops.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from looplab.bench import ServerProcess, fetch_catalogue

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "benchmarks" / "locustfile.py"

# Read from the summary locust prints as it quits: it is final, whereas the
# --csv files are written once a second and can miss the last of the run.
_AGGREGATED = re.compile(r"^\s+Aggregated\s+(\d+)\s+(\d+)\(", re.MULTILINE)
_ROW_NAME = re.compile(r"^[A-Z]+\s+(\S+)\s+\d+\s+\d+\(", re.MULTILINE)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess("app.main:app") as running:
        yield running


def run_locust(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", "4", "-r", "4", "-t", "4s", "--host", url, "--only-summary", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def aggregated(output: str) -> tuple[int, int]:
    """(requests, failures) from the summary locust prints as it quits."""
    match = _AGGREGATED.search(output)
    assert match, f"no summary in locust's output:\n{output}"
    return int(match.group(1)), int(match.group(2))


def row_names(output: str) -> set[str]:
    """The names of the rows of locust's statistics table."""
    return set(_ROW_NAME.findall(output))


def family_ids(url: str, family: str) -> set[str]:
    return {entry.id for entry in fetch_catalogue(url) or [] if entry.family == family}


def test_locust_loads_chosen_entries_without_failures(server: ServerProcess) -> None:
    # A family, plus one entry whose `workload` has query parameters (a wrong one is a 422).
    chosen = ("--lab-family", "story", "--lab-ids", "read.threadpool")
    result = run_locust(server.url, *chosen)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    requests, failures = aggregated(output)
    assert requests > 0
    assert failures == 0
    # One statistics row per chosen entry, named by its id, plus the probe's.
    expected = family_ids(server.url, "story") | {"read.threadpool", "/ping"}
    assert row_names(output) == expected


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--lab-ids", "story.nonexistent", "unknown id story.nonexistent"),
        ("--lab-family", "nonexistent", "unknown family nonexistent"),
    ],
)
def test_locust_rejects_an_unknown_id_or_family(
    server: ServerProcess, option: str, value: str, message: str
) -> None:
    result = run_locust(server.url, option, value)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr


def test_locust_exits_1_when_requests_fail() -> None:
    # PYTHONPATH: the broken app is imported from the tests package, wherever pytest runs.
    broken_app = ServerProcess(
        "tests.benchmarks.broken_app:app", ready_path="/ping", env={"PYTHONPATH": str(ROOT)}
    )
    with broken_app as broken:
        result = run_locust(broken.url)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    requests, failures = aggregated(output)
    assert 0 < failures <= requests
    assert row_names(output) == {"broken.always", "/ping"}
    assert "requests failed" in result.stderr
