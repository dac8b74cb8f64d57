"""benchmarks/soak.py, run as CI runs it: 60 s against ``looplab serve --workers 2``.

The script runs in a subprocess (it starts locust, which must stay out of this
process, and it owns its signals); its samples, figures and verdict are read back
from the file ``--json`` writes, so the test fails if nothing was measured. The
warm-up is 20 s instead of the script's 60 s, and a sample is taken every 5 s instead
of 10 s, so that each third of the 40 s judged holds two samples to take a median of.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from app.catalogue import CATALOGUE

# Heavy: a two-worker server, locust and the probe for a minute; run on their own.
pytestmark = [pytest.mark.server, pytest.mark.timing]

ROOT = Path(__file__).resolve().parents[2]
SOAK = ROOT / "benchmarks" / "soak.py"


def soak_command(json_path: Path, *args: str) -> list[str]:
    return [sys.executable, str(SOAK), "--json", str(json_path), *args]


def in_tmp(tmp_path: Path) -> dict[str, str]:
    # A failed soak keeps its logs, in the temporary directory: this test's.
    return {**os.environ, "TMPDIR": str(tmp_path)}


def run_soak(tmp_path: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    command = soak_command(tmp_path / "soak.json", *args)
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=in_tmp(tmp_path)
    )


def samples_of(report: dict[str, Any], role: str, phase: str) -> dict[int, list[dict[str, Any]]]:
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for sample in report["samples"]:
        if sample["role"] == role and sample["phase"] == phase:
            by_pid.setdefault(sample["pid"], []).append(sample)
    return by_pid


def assert_all_gone(pids: Iterable[int]) -> None:
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.timeout(150)
def test_soak_60s_passes_with_real_measurements(tmp_path: Path) -> None:
    result = run_soak(
        tmp_path, "--duration", "60s", "--warmup", "20s", "--interval", "5s", timeout=140
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    report = json.loads((tmp_path / "soak.json").read_text())
    assert report["verdict"] == "PASS" and not report["reasons"], output
    assert not report["partial"]

    # Samples of the supervisor and of both workers, before, during and after the load.
    server = report["server"]
    supervisor = samples_of(report, "supervisor", "soak")
    workers = samples_of(report, "worker", "soak")
    assert list(supervisor) == [server["supervisor"]]
    assert sorted(workers) == sorted(server["workers"]) and len(workers) == 2
    for series in (*supervisor.values(), *workers.values()):
        assert len(series) >= 6
        assert all(s["fds"] > 0 and s["threads"] > 0 and s["rss_mib"] > 0 for s in series)
    # Tokens come from each worker's own gauge in /metrics.
    assert all(s["tokens"] is not None for series in workers.values() for s in series)
    for phase in ("idle", "drained"):
        assert sorted(samples_of(report, "worker", phase)) == sorted(workers)
    assert server["restarts"] == []
    assert server["status_5xx"] == 0 and server["asgi_errors"] == 0

    # The load really ran: locust over the whole catalogue, the probe, the cut-offs.
    locust = report["locust"]
    assert set(locust["per_entry"]) == {entry.id for entry in CATALOGUE}
    assert locust["requests"] > 0 and locust["failures"] == 0
    windows = report["probe"]["windows"]
    assert sum(w["completed"] for w in windows) > 0
    assert sum(w["errors"] for w in windows) == 0
    assert report["abandoned"]["abandoned"] > 0 and report["abandoned"]["unexpected"] == 0

    assert_all_gone([server["supervisor"], *server["workers"], locust["pid"]])


@pytest.mark.timeout(60)
def test_soak_sigint_stops_everything_and_reports_partial(tmp_path: Path) -> None:
    path = tmp_path / "soak.json"
    command = soak_command(path, "--duration", "60s", "--warmup", "20s")
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=in_tmp(tmp_path)
    )
    try:
        assert proc.stderr is not None
        # Interrupted once the load runs: the server, locust and the probe are all up.
        for line in proc.stderr:
            if line.startswith("soak: load started"):
                break
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=45)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, stdout + stderr
    assert "Traceback" not in stdout + stderr
    report = json.loads(path.read_text())
    assert report["partial"] and report["verdict"] == "FAIL"
    assert any("interrupted by SIGINT" in reason for reason in report["reasons"])
    server = report["server"]
    assert len(server["workers"]) == 2
    assert_all_gone([server["supervisor"], *server["workers"], report["locust"]["pid"]])


@pytest.mark.timeout(60)
def test_soak_fails_fast_when_locust_cannot_load(tmp_path: Path) -> None:
    # A workload outside the catalogue's bounds: the locustfile refuses it and exits.
    result = run_soak(
        tmp_path, "--duration", "60s", "--warmup", "20s", "--query", "delay_ms=999999", timeout=50
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "soak.json").read_text())
    assert report["verdict"] == "FAIL" and report["load_s"] < 15
    assert any("does not accept delay_ms=999999" in reason for reason in report["reasons"])
    assert_all_gone([report["server"]["supervisor"], report["locust"]["pid"]])
