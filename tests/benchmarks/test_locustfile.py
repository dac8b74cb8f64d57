"""benchmarks/locustfile.py, run by locust itself against a live uvicorn.

Locust monkey-patches the standard library with gevent when it is imported, so
it only ever runs here as a subprocess; its figures are read back from the
``--csv`` files and the summary it prints when it stops.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from looplab.server import ServerProcess

pytestmark = pytest.mark.server

LOCUSTFILE = Path(__file__).resolve().parents[2] / "benchmarks" / "locustfile.py"

# The printed summary is final; the --csv files can lag the end by a second.
_AGGREGATED = re.compile(r"^\s+Aggregated\s+(\d+)\s+(\d+)\(", re.MULTILINE)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess() as running:
        yield running


def run_locust(url: str, csv_prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", "4", "-r", "4", "-t", "4s", "--host", url,
        "--csv", str(csv_prefix), "--only-summary", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def aggregated(output: str) -> tuple[int, int]:
    """(requests, failures) from the summary locust prints as it quits."""
    match = _AGGREGATED.search(output)
    assert match, f"no summary in locust's output:\n{output}"
    return int(match.group(1)), int(match.group(2))


def csv_names(csv_prefix: Path) -> set[str]:
    with Path(f"{csv_prefix}_stats.csv").open(newline="") as stats:
        return {row["Name"] for row in csv.DictReader(stats) if row["Name"] != "Aggregated"}


def family_ids(url: str, family: str) -> set[str]:
    with urllib.request.urlopen(url + "/lab", timeout=10) as response:
        return {entry["id"] for entry in json.load(response) if entry["family"] == family}


def test_locust_loads_a_family_without_failures(server: ServerProcess, tmp_path: Path) -> None:
    result = run_locust(server.url, tmp_path / "story", "--lab-family", "story")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    requests, failures = aggregated(output)
    assert requests > 0
    assert failures == 0
    # One statistics row per catalogue entry, named by its id, plus the probe's.
    assert csv_names(tmp_path / "story") == family_ids(server.url, "story") | {"/ping"}


def test_locust_rejects_an_unknown_lab_id(server: ServerProcess, tmp_path: Path) -> None:
    result = run_locust(server.url, tmp_path / "bad", "--lab-ids", "story.nonexistent")
    assert result.returncode == 1
    assert "unknown --lab-ids story.nonexistent" in result.stderr


def test_locust_exits_1_when_requests_fail(tmp_path: Path) -> None:
    with ServerProcess("tests.benchmarks.broken_app:app", ready_path="/ping") as broken:
        result = run_locust(broken.url, tmp_path / "broken")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    requests, failures = aggregated(output)
    assert 0 < failures <= requests
    assert csv_names(tmp_path / "broken") == {"broken.always", "/ping"}
    assert "requests failed" in result.stderr
