"""``looplab bench --app`` on a user's own app: no catalogue, looplab under a prefix."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from looplab.bench import read_results

APP = "tests.looplab.bench.prefixed_app:app"
LOOPLAB = [sys.executable, "-m", "looplab._cli"]

pytestmark = pytest.mark.server


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOOPLAB, "bench", "--app", APP, "--duration", "1", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_an_app_without_a_catalogue_gets_the_probe_alone(tmp_path: Path) -> None:
    done = _bench("--monitor-prefix", "/_looplab", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    results = read_results(tmp_path / "results.json")
    assert results.runs == []
    assert results.meta.server == f"{APP} (uvicorn)"
    assert results.meta.settings.monitor_prefix == "/_looplab"
    # The probe found /ping under the prefix, and the monitor answered there too.
    assert results.idle.probe_ms.p50 > 0
    assert results.meta.monitor and results.idle.lag_ms.max is not None
    assert "looplab" in results.meta.versions
    assert "probe alone" in done.stdout


def test_a_missing_ping_fails_at_once_and_says_why(tmp_path: Path) -> None:
    done = _bench("--out", str(tmp_path))  # looplab is under /_looplab, not at the root
    assert done.returncode == 2, done.stdout + done.stderr
    message = " ".join((done.stdout + done.stderr).split())
    assert "/ping answered 404" in message and "--monitor-prefix" in message
    assert not (tmp_path / "results.json").exists()


def test_monitor_prefix_is_a_path() -> None:
    done = _bench("--monitor-prefix", "_looplab")
    assert done.returncode == 2
    assert "/_looplab" in done.stdout + done.stderr
