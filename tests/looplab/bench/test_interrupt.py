"""Ctrl-C, SIGTERM or a closed terminal during ``looplab bench``: no orphans, no tracebacks,
and the runs measured so far are written, marked partial."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from looplab.bench import read_results

pytestmark = [pytest.mark.server, pytest.mark.timing]


def _processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (the bench's and its children's)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue  # gone, or not ours to read
    return found


@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGHUP, True)],
    ids=["Ctrl-C", "SIGTERM", "closed-terminal"],
)
def test_a_signal_stops_the_bench_cleanly(
    tmp_path: Path, signum: signal.Signals, to_group: bool
) -> None:
    marker = f"looplab-interrupt-{os.getpid()}-{signum.name}"
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "looplab._cli", "bench", "--duration", "1", "--out", str(out),
        "--family", "story,image",
    ]  # fmt: skip
    env = {**os.environ, "LOOPLAB_INTERRUPT_MARKER": marker, "COLUMNS": "200"}
    # A session of its own: the group a terminal would signal is the bench's.
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        # The server, the idle floor and a few of the 13 runs (each 1 s, plus its drain):
        # then the signal, well before the last run.
        time.sleep(12)
        assert proc.poll() is None, proc.communicate()
        if to_group:
            os.killpg(proc.pid, signum)  # what Ctrl-C and a closing terminal do
        else:
            proc.send_signal(signum)  # what kill and timeout do
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signum.value, stdout + stderr
    assert "Traceback" not in stdout + stderr, stdout + stderr
    # Nothing it started is left: not the server, not the load or probe processes.
    deadline = time.monotonic() + 5
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(marker) == []
    results = read_results(out / "results.json")
    assert results.partial == f"interrupted by {signum.name}"
    assert 1 <= len(results.runs) < 13
    assert f"interrupted by {signum.name}" in stdout
