"""A soak: the whole catalogue under light, steady load for a long time, watched for leaks.

    uv run python benchmarks/soak.py --duration 30m [--warmup 60s] [--json soak.json]

It starts ``looplab serve --workers 2 --port 0`` (the lab as a user runs it, with its
default cost budget and Prometheus' multiprocess mode), then for ``--duration``:

- locust runs ``LabUser`` of ``benchmarks/locustfile.py``: ``--users`` users calling
  every entry of the catalogue (``GET /lab``) with a light workload (``--query``: each
  request costs 5-20 ms of injected delay or CPU) and ``--wait`` seconds between calls;
- looplab's open-loop probe calls ``/ping`` at ``--probe-rate``, one window per sample;
- every ``--abandon-every`` seconds one long request (a 2 s read, an 8 s stream, 5 s of
  tokens, 3 s of CPU) to an entry that is not an anti-pattern is cut off by its client
  after ``--abandon-after`` seconds, on purpose. They are counted here, apart from
  failures: the disconnect path is where descriptors and thread tokens used to leak.

Every ``--interval`` (10 s) it samples the uvicorn supervisor and each worker (found
from the supervisor's pid through ``/proc/<pid>/task/*/children``): open descriptors
(``/proc/<pid>/fd``), threads and RSS (``/proc/<pid>/status``), child processes (the
workers' AnyIO process pool) and, per worker, the thread tokens borrowed, read from the
per-pid gauge ``looplab_threadpool_borrowed_tokens`` of ``/metrics`` (``/monitor``
answers from whichever worker takes the connection). One sample is ``idle``, before
the load; the first ``--warmup`` seconds of the load (60 s) are ``warm-up`` and judged
by nothing; the rest is ``soak``; ``--drain`` seconds after the load, one ``drained``
sample. (The 60 s CI test, tests/benchmarks/test_soak.py, uses ``--warmup 20s
--interval 5s``, so that each third of its 40 s has samples to take a median of.)

Pass means all of:

- No upward trend, per process: the median of the last third of the ``soak`` samples
  minus the median of the first third stays within ``TREND_BOUNDS``: descriptors +8,
  threads +8, RSS +16 MiB, borrowed tokens +10, child processes +2. Medians of thirds,
  so one busy moment cannot fail a run, nor hide a steady climb. Measured over 10
  minutes of the default load, a worker's descriptors moved between 36 and 44 and its
  threads between 6 and 10 (the connections of locust and the probe land on either
  worker, each pool process adds its pipes) while the medians of the thirds moved by
  0.5 at most; RSS rose 2.6-3.2 MiB between the thirds, flattening (+0.1 MiB in the
  last 5 minutes), which is the allocator settling. Against those: one descriptor or
  token kept per abandoned request is about +115 per worker between the thirds of a
  30-minute run, and 16 MiB there is about 170 bytes kept per request. Tokens are
  sampled mid-request, and each of the 10 users holds at most one, so +10 is noise;
  their exact test is the drain.
- Drained: after the load every worker has 0 borrowed tokens, and every process at most
  ``DRAIN_FD_SLACK`` (4) descriptors more than when idle, plus ``FDS_PER_CHILD`` (3)
  per process-pool child of a worker (measured: 27-28 idle, 30-33 drained, 1-2 children).
- The same workers throughout: uvicorn restarting a worker is a failure.
- 0 responses of 5xx and 0 "Exception in ASGI application" in the server's log: its
  access log sees every client (locust, the probe, the abandoned requests, the sampler).
- Locust called every entry of the catalogue, with 0 failures and exit code 0; the probe
  got answers and 0 errors; no abandoned request got an error status or a broken
  connection; nothing of the server or locust outlived SIGTERM; no signal cut the run.

The probe's latency is reported (p99 per window, beside the samples), not judged: on a
shared two-core machine it moves with everything else.

It prints the samples (one row per sample time, one group of columns per process), the
checks and PASS or FAIL with the reasons, and exits 0 or 1; ``--json PATH`` also writes
the settings, bounds, samples, figures and checks. The server's and locust's logs are
deleted after a pass and kept (their paths printed) after a failure. SIGINT, SIGTERM
and SIGHUP stop the server, locust and the probe, leave no process behind, and report
what was measured so far as a failed, partial run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import itertools
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from looplab.bench import GRACEFUL_SHUTDOWN_S, CatalogueError, fetch_catalogue, probe
from looplab.protocol import CatalogueEntry

LOCUSTFILE = Path(__file__).with_name("locustfile.py")

# Light workload for every entry that takes the parameter: 5 ms reads, 4 chunks of a
# 1 MiB file at 5 ms each, 5 tokens 2 ms apart, 5 ms of CPU; FileResponse serves the
# 1 MiB sample, not its 64 MiB default. A soak, not a stress test.
LIGHT_QUERY = "delay_ms=5,chunk_size=262144,file=sample-1MiB.bin,items=5,item_delay_ms=2,cpu_ms=5"
# A long request for the entries that are abandoned: read 2 s, stream 4 x 2 s, tokens
# 100 x 50 ms, CPU 3 s; all within the default cost budget (30 s).
ABANDON_QUERY: Mapping[str, str] = {
    "delay_ms": "2000",
    "chunk_size": "262144",
    "items": "100",
    "item_delay_ms": "50",
    "cpu_ms": "3000",
}

# How far the median of the last third of the soak's samples may rise above the median
# of the first third, per process (see the module docstring for why these values).
TREND_BOUNDS: Mapping[str, float] = {
    "fds": 8,
    "threads": 8,
    "rss_mib": 16,
    "tokens": 10,
    "children": 2,
}
UNITS = {"rss_mib": " MiB"}
# After the load: descriptors of a process beyond its idle count, besides its children's.
DRAIN_FD_SLACK = 4
FDS_PER_CHILD = 3

_BOUND = re.compile(r"Uvicorn running on https?://[^\s:]+:(\d+)")
_STARTED = "Application startup complete."
_STATUS_5XX = re.compile(r'HTTP/[\d.]+" (5\d\d)\b')
_ASGI_ERROR = "Exception in ASGI application"
_BORROWED = re.compile(r'^looplab_threadpool_borrowed_tokens\{pid="(\d+)"\}\s+(\S+)$', re.M)


# -- the server ------------------------------------------------------------------------------


class Serve:
    """``looplab serve --workers N --port 0``, in a session of its own, logging to a file."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        fd, name = tempfile.mkstemp(prefix="looplab-soak-server-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        self.url = ""
        self.stopped_in_s: float | None = None
        self.killed: list[int] = []  # outlived SIGTERM by seconds: SIGKILLed
        self.left_behind: list[int] = []  # still there after SIGKILL
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def start(self, stop: threading.Event, timeout: float = 60.0) -> None:
        # The console script of this environment, so the pid is the supervisor's own
        # (``uv run looplab`` would put uv in between).
        command = [str(Path(sys.executable).with_name("looplab")), "serve"]
        command += ["--workers", str(self.workers), "--port", "0"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.exit_code() is not None or time.monotonic() > deadline or stop.is_set():
                raise RuntimeError(f"looplab serve did not start:\n{self.log_tail()}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        # Every worker has run its lifespan startup, and one answers.
        text = self.log_path.read_text(errors="replace")
        match = _BOUND.search(text)
        if match is None or text.count(_STARTED) < self.workers:
            return False
        self.url = f"http://127.0.0.1:{match.group(1)}"
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the whole group, as a terminal's Ctrl-C would; SIGKILL what outlives it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        began = time.monotonic()
        self.killed = _stop_group(proc, signal.SIGTERM, GRACEFUL_SHUTDOWN_S + 15)
        self.stopped_in_s = round(time.monotonic() - began, 2)
        self.left_behind = _group_members(proc.pid)


def _stop_group(proc: subprocess.Popen[Any], sig: signal.Signals, timeout: float) -> list[int]:
    """Signal the group ``proc`` leads, then SIGKILL what outlives it; returns those pids.

    The child leads a session of its own, so its pid is its process group: this reaches
    its workers and their process pools too, and nothing else.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # The rest of the group gets a moment to follow its leader (multiprocessing's
    # tracker exits when the supervisor's pipe closes) before it is killed.
    stragglers = _wait_group_gone(proc.pid, 3.0)
    if stragglers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        _wait_group_gone(proc.pid, 3.0)
    return stragglers


def _group_members(pgid: int) -> list[int]:
    """Live processes (zombies left out) of the process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # The fields after the command name, which may itself hold spaces and brackets.
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
            if int(pgrp) == pgid and state != "Z":
                members.append(int(stat.parent.name))
    return members


def _wait_group_gone(pgid: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (members := _group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return members


class LogWatch:
    """Reads the server's log as it grows: 5xx responses, ASGI errors, the lines themselves."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.status_5xx = 0
        self.asgi_errors = 0
        self.examples: list[str] = []
        self._offset = 0
        self._partial = ""

    def scan(self) -> None:
        with self.path.open("r", errors="replace") as log:
            log.seek(self._offset)
            text = self._partial + log.read()
            self._offset = log.tell()
        *lines, self._partial = text.split("\n")
        for line in lines:
            bad_status = _STATUS_5XX.search(line) is not None
            self.status_5xx += bad_status
            self.asgi_errors += _ASGI_ERROR in line
            if (bad_status or _ASGI_ERROR in line) and len(self.examples) < 5:
                self.examples.append(line.strip())


# -- sampling the server's processes --------------------------------------------------------


@dataclass
class Sample:
    """One process at one moment. ``t_s`` counts from the start of the load."""

    t_s: float
    phase: str  # idle, warm-up, soak or drained
    pid: int
    role: str  # supervisor or worker
    fds: int
    threads: int
    rss_mib: float
    children: int
    tokens: int | None  # borrowed thread tokens, workers only


def _children(pid: int) -> list[int]:
    # A child is listed under the thread that forked it: read every thread's list.
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in children.read_text().split()]
    return sorted(set(found))


def _is_worker(pid: int) -> bool:
    # Beside its workers the supervisor has one more child: multiprocessing's tracker.
    try:
        return b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _read_proc(pid: int) -> tuple[int, int, float] | None:
    """(descriptors, threads, RSS in MiB), or None once the process is gone."""
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if "VmRSS" not in fields:  # a zombie
        return None
    return fds, int(fields["Threads"]), int(fields["VmRSS"].split()[0]) / 1024


def read_borrowed_tokens(url: str) -> dict[int, int]:
    """Each worker's borrowed thread tokens, by pid, from the per-pid gauges of /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {int(pid): round(float(value)) for pid, value in _BORROWED.findall(text)}


@dataclass
class Sampler:
    """Samples the supervisor and its workers, and notices workers that come and go."""

    url: str
    supervisor: int
    samples: list[Sample] = field(default_factory=list)
    workers: list[int] = field(default_factory=list)  # every worker seen, in order
    restarts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _current: set[int] = field(default_factory=set)

    def take(self, t_s: float, phase: str) -> list[Sample]:
        """Sample every process of the server now; returns this moment's samples."""
        taken = len(self.samples)
        try:
            tokens = read_borrowed_tokens(self.url)
        except OSError as exc:
            tokens = {}
            self.problems.append(f"t={t_s:.0f}s: /metrics unreadable ({exc})")
        workers = [pid for pid in _children(self.supervisor) if _is_worker(pid)]
        self._track(t_s, workers)
        self._add(t_s, phase, self.supervisor, "supervisor", None)
        for pid in workers:
            if pid not in tokens:
                self.problems.append(f"t={t_s:.0f}s: no token gauge for worker {pid}")
            self._add(t_s, phase, pid, "worker", tokens.get(pid))
        return self.samples[taken:]

    def _track(self, t_s: float, workers: list[int]) -> None:
        # A worker that is gone, or one that is new after the first sample, is a restart.
        new = [pid for pid in workers if pid not in self.workers]
        gone = sorted(self._current - set(workers))
        if self._current and (new or gone):
            self.restarts.append({"t_s": round(t_s, 1), "gone": gone, "new": new})
        self.workers += new
        self._current = set(workers)

    def _add(self, t_s: float, phase: str, pid: int, role: str, tokens: int | None) -> None:
        figures = _read_proc(pid)
        if figures is None:
            self.problems.append(f"t={t_s:.0f}s: {role} {pid} could not be read")
            return
        fds, threads, rss_mib = figures
        children = len(_children(pid))
        rss = round(rss_mib, 1)
        sample = Sample(round(t_s, 1), phase, pid, role, fds, threads, rss, children, tokens)
        self.samples.append(sample)


# -- the load --------------------------------------------------------------------------------


@dataclass
class ProbeWindow:
    """The probe's figures from ``begin_s`` to ``end_s`` (the sample between them)."""

    begin_s: float
    end_s: float
    sent: int
    completed: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def window_edges(interval: float, duration: float) -> list[float]:
    """0, then halfway between sample times, then the end: one window around each sample.

    The probe opens its connections afresh for every window; with edges on the sample
    times, the sampler would count the old and the new connections at once.
    """
    middles = itertools.takewhile(
        lambda t: t < duration, (k * interval + interval / 2 for k in itertools.count())
    )
    return [0.0, *middles, duration]


class ProbeThread(threading.Thread):
    """looplab's open-loop probe on ``/ping``, one window per sample, in a loop of its own.

    Windows, not one long probe: each ends with figures of its own, so latency can be
    read beside the samples, and an interrupted run keeps the windows it finished.
    """

    def __init__(self, url: str, rate: float, interval: float, duration: float) -> None:
        super().__init__(name="soak-probe", daemon=True)
        self.url, self.rate, self.interval, self.duration = url, rate, interval, duration
        self.start_at = 0.0
        self.windows: list[ProbeWindow] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._running = threading.Event()

    def begin(self, start_at: float) -> None:
        self.start_at = start_at
        self.start()
        self._running.wait(10)

    def run(self) -> None:
        loop = asyncio.new_event_loop()
        self._task = loop.create_task(self._windows())
        self._loop = loop
        self._running.set()
        try:
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._task)
        finally:
            loop.close()

    async def _windows(self) -> None:
        edges = window_edges(self.interval, self.duration)
        for begins, ends in itertools.pairwise(edges):
            result = await probe(
                self.url + "/ping",
                rate_hz=self.rate,
                duration_s=ends - begins,
                start_at=self.start_at + begins,
                # Few connections: they land on either worker, and each window opens its
                # own, so more would only add noise to the workers' descriptor counts.
                connections=4,
                timeout_s=10,
            )
            figures = result.probe_ms
            self.windows.append(
                ProbeWindow(
                    begin_s=begins,
                    end_s=ends,
                    sent=result.sent,
                    completed=result.completed,
                    errors=result.errors,
                    p50_ms=figures.p50,
                    p99_ms=figures.p99,
                    max_ms=figures.max,
                )
            )

    def cancel(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(task.cancel)


@dataclass
class AbandonTally:
    """Long requests cut off by the client on purpose, and what became of them."""

    abandoned: int = 0
    finished: int = 0  # the whole answer came before the cut: not abandoned after all
    unexpected: int = 0  # an error status or a broken connection: a failure
    examples: list[str] = field(default_factory=list)
    by_entry: dict[str, int] = field(default_factory=dict)

    def record(self, entry_id: str, outcome: str) -> None:
        if outcome == "abandoned":
            self.abandoned += 1
            self.by_entry[entry_id] = self.by_entry.get(entry_id, 0) + 1
        elif outcome == "finished":
            self.finished += 1
        else:
            self.unexpected += 1
            if len(self.examples) < 5:
                self.examples.append(f"{entry_id}: {outcome}")


def abandon_one(url: str, path: str, cut_s: float) -> str:
    """GET ``path``, read until ``cut_s``, hang up: "abandoned", "finished" or what went wrong.

    A raw socket, as a client that times out would use one: after the cut the
    connection is closed with the answer half read (or not begun), and the server
    hears of it only as a disconnect.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.monotonic() + cut_s
    head = b""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    try:
        with socket.create_connection((host, port), timeout=cut_s) as sock:
            sock.sendall(request.encode())
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    break
                if not chunk:  # Connection: close, so the server hung up: all of it came
                    return _outcome(head, "finished")
                head = (head + chunk)[:64]
    except OSError as exc:
        return f"error {exc!r}"
    return _outcome(head, "abandoned")


def _outcome(head: bytes, otherwise: str) -> str:
    status = head.split(b" ", 2)[1:2]
    if status and status[0] != b"200":
        return f"status {status[0].decode(errors='replace')}"
    return otherwise


def abandonable(catalogue: Sequence[CatalogueEntry]) -> list[tuple[str, str]]:
    """(id, path and query) of a long request for every entry that can be cut off usefully.

    Anti-patterns are left out: a 2 s inline read or 3 s of CPU on the loop would stall
    the server on purpose, which is a lesson, not a soak. So are entries without a
    parameter that makes a request long (the story and image seeds, FileResponse).
    """
    chosen = []
    for entry in catalogue:
        overrides = {name: v for name, v in ABANDON_QUERY.items() if name in entry.params}
        if not entry.antipattern and entry.method == "GET" and overrides:
            chosen.append((entry.id, entry.url("", **overrides)))
    return chosen


class Abandoner(threading.Thread):
    """Every ``every`` seconds, one long request to the next entry, cut off after ``cut_s``."""

    def __init__(self, url: str, targets: list[tuple[str, str]], every: float, cut_s: float):
        super().__init__(name="soak-abandoner", daemon=True)
        self.url, self.targets, self.every, self.cut_s = url, targets, every, cut_s
        self.tally = AbandonTally()
        self.done = threading.Event()

    def run(self) -> None:
        for entry_id, path in itertools.cycle(self.targets):
            if self.done.wait(self.every):
                return
            self.tally.record(entry_id, abandon_one(self.url, path, self.cut_s))


class LocustRun:
    """Locust headless in a session of its own: ``LabUser`` over the whole catalogue."""

    def __init__(self, workdir: Path) -> None:
        self.log_path = workdir / "locust.log"
        self._prefix = workdir / "locust"  # --json-file adds .json; --csv adds _stats.csv...
        self._proc: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None
        self.pid: int | None = None
        self.killed: list[int] = []
        self.left_behind: list[int] = []

    def start(self, url: str, args: argparse.Namespace, run_time_s: float) -> None:
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "LabUser", "--headless",
            "-u", str(args.users), "-r", str(args.users), "-t", f"{math.ceil(run_time_s)}s",
            "--host", url, "--lab-query", args.query, "--lab-wait", str(args.wait),
            "--stop-timeout", "10", "--only-summary",
            "--json-file", str(self._prefix), "--csv", str(self._prefix),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid = self._proc.pid

    def wait_spawned(self, stop: threading.Event, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while "All users spawned" not in self.log_path.read_text(errors="replace"):
            if self.poll() is not None or time.monotonic() > deadline or stop.is_set():
                raise RuntimeError(f"locust did not start:\n{self.log_tail()}")
            time.sleep(0.1)

    def poll(self) -> int | None:
        if self._proc is not None and self.exit_code is None:
            self.exit_code = self._proc.poll()
        return self.exit_code

    def wait(self, timeout: float) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout)
        self.poll()

    def stop(self) -> None:
        """SIGTERM: locust stops its users and still writes its figures."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self.killed = _stop_group(proc, signal.SIGTERM, 30)
            self.left_behind = _group_members(proc.pid)
            self.exit_code = proc.returncode

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def errors(self) -> str:
        """Locust's own error lines (the locustfile reports a bad option as one)."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        errors = [line for line in lines if "/ERROR/" in line or "Traceback" in line]
        return " | ".join(errors[-3:]) or f"exit code {self.poll()}, no error logged"

    def figures(self) -> dict[str, Any]:
        """Requests and failures per entry, from locust's final JSON (empty if it wrote none)."""
        path = self._prefix.with_name(self._prefix.name + ".json")
        rows = json.loads(path.read_text()) if path.exists() else []
        per_entry = {row["name"]: [row["num_requests"], row["num_failures"]] for row in rows}
        return {
            "pid": self.pid,
            "exit_code": self.exit_code,
            "requests": sum(r for r, _ in per_entry.values()),
            "failures": sum(f for _, f in per_entry.values()),
            "per_entry": per_entry,
            "failure_examples": self._failure_examples(),
        }

    def _failure_examples(self) -> list[str]:
        # Written once a second, so possibly a little behind: for reading, not counting.
        path = self._prefix.with_name(self._prefix.name + "_failures.csv")
        if not path.exists():
            return []
        with path.open(newline="") as file:
            rows = list(csv.DictReader(file))
        return [f"{r['Name']}: {r['Error']} x{r['Occurrences']}" for r in rows[:5]]


# -- the run ---------------------------------------------------------------------------------


class Soak:
    """One soak: the server, its load and the samples, from start to the drained sample."""

    def __init__(self, args: argparse.Namespace, interrupted: threading.Event) -> None:
        self.args = args
        self.interrupted = interrupted
        self.workdir = Path(tempfile.mkdtemp(prefix="looplab-soak-"))
        self.server = Serve(args.workers)
        self.log = LogWatch(self.server.log_path)
        self.locust = LocustRun(self.workdir)
        self.sampler = Sampler("", 0)
        self.probe: ProbeThread | None = None
        self.abandoner: Abandoner | None = None
        self.catalogue: list[CatalogueEntry] = []
        self.problems: list[str] = []
        self.load_s = 0.0

    def run(self) -> None:
        self.server.start(self.interrupted)
        self.catalogue = fetch_catalogue(self.server.url) or []
        self.sampler = Sampler(self.server.url, self.server.pid)
        self.sampler.take(0.0, "idle")
        started = self._start_load()
        self._sample_until(started)
        self._end_load()
        self.load_s = round(time.monotonic() - started, 1)
        # A run cut short has failed already: no drained sample, no waiting for one.
        if not self.problems and not self.interrupted.wait(self.args.drain):
            self.sampler.take(time.monotonic() - started, "drained")

    def _start_load(self) -> float:
        args = self.args
        # Locust runs a little longer than the sampled window, which starts once its
        # users are spawned; the end of the load waits for it to stop by itself.
        self.locust.start(self.server.url, args, args.duration + 2)
        self.locust.wait_spawned(self.interrupted)
        started = time.monotonic()
        self.probe = ProbeThread(self.server.url, args.probe_rate, args.interval, args.duration)
        self.probe.begin(started)
        if args.abandon_every > 0:
            targets = abandonable(self.catalogue)
            self.abandoner = Abandoner(
                self.server.url, targets, args.abandon_every, args.abandon_after
            )
            self.abandoner.start()
        print(
            f"soak: load started on {self.server.url} (supervisor {self.server.pid}):"
            f" {args.users} locust users, /ping at {args.probe_rate:g}/s;"
            f" a sample every {args.interval:g}s for {args.duration:g}s",
            file=sys.stderr,
            flush=True,
        )
        return started

    def _sample_until(self, started: float) -> None:
        interval, duration = self.args.interval, self.args.duration
        for k in itertools.count(1):
            due = min(k * interval, duration)
            if not self._wait_healthy(started, due):
                return
            phase = "warm-up" if due <= self.args.warmup else "soak"
            taken = self.sampler.take(time.monotonic() - started, phase)
            self.log.scan()
            _progress(self, due, taken)
            if due >= duration:
                return

    def _wait_healthy(self, started: float, due: float) -> bool:
        """Wait for ``due``, checking every second; False on a signal or a dead process."""
        while (left := started + due - time.monotonic()) > 0:
            if self.interrupted.wait(min(left, 1.0)):
                return False
            at = time.monotonic() - started
            if self.server.exit_code() is not None:
                self.problems.append(f"the server exited ({self.server.exit_code()}) at {at:.0f}s")
                return False
            # Locust runs past the last sample: ending before it is a failure of its own.
            if self.locust.poll() is not None:
                self.problems.append(f"locust stopped at {at:.0f}s: {self.locust.errors()}")
                return False
        return True

    def _end_load(self) -> None:
        # Cut short (a signal, the server or locust gone): stop the rest now, not at the end.
        cut_short = self.interrupted.is_set() or bool(self.problems)
        if self.abandoner is not None:
            self.abandoner.done.set()
        if cut_short:
            self.locust.stop()
        else:
            self.locust.wait(60)
        if self.probe is not None:
            if cut_short:
                self.probe.cancel()
            self.probe.join(30)
        if self.abandoner is not None:
            self.abandoner.join(self.args.abandon_after + 10)

    def close(self) -> None:
        """Stop everything this run started, whatever state it is in."""
        if self.abandoner is not None:
            self.abandoner.done.set()
        if self.probe is not None:
            self.probe.cancel()
        self.locust.stop()
        self.server.stop()
        self.log.scan()


def _progress(soak: Soak, due: float, taken: Sequence[Sample]) -> None:
    # One line per sample on stderr: a 30-minute run should show it is alive.
    figures = "  ".join(
        f"{s.role[0]}{s.pid} {s.fds} fd {s.threads} thr {s.rss_mib:.0f} MiB"
        + ("" if s.tokens is None else f" {s.tokens} tok")
        for s in taken
    )
    phase = taken[0].phase if taken else "?"
    position = f"{due:>6.0f}/{soak.args.duration:.0f}s {phase:<7}"
    print(f"soak: {position} {figures}; 5xx {soak.log.status_5xx}", file=sys.stderr, flush=True)


# -- the verdict -----------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


def _label(sample: Sample) -> str:
    return f"{sample.role} {sample.pid}"


def _by_process(samples: Sequence[Sample], phase: str) -> dict[str, list[Sample]]:
    grouped: dict[str, list[Sample]] = {}
    for sample in samples:
        if sample.phase == phase:
            grouped.setdefault(_label(sample), []).append(sample)
    return grouped


def slope_per_min(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (t_s, value), per minute (reported; the bound uses thirds)."""
    if len(points) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_v = statistics.fmean(v for _, v in points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 60


def trend_check(label: str, resource: str, series: Sequence[Sample]) -> Check:
    """The median of the last third of the soak's samples against the first third's."""
    points = [(s.t_s, float(v)) for s in series if (v := getattr(s, resource)) is not None]
    bound, unit, name = TREND_BOUNDS[resource], UNITS.get(resource, ""), f"{label} {resource}"
    if len(points) < 3:
        return Check(name, False, f"only {len(points)} samples after warm-up (3 needed)")
    third = max(1, len(points) // 3)
    first = statistics.median(v for _, v in points[:third])
    last = statistics.median(v for _, v in points[-third:])
    detail = (
        f"median {first:g} -> {last:g}{unit} ({last - first:+g}, bound +{bound:g});"
        f" slope {slope_per_min(points):+.2f}/min, max {max(v for _, v in points):g}"
    )
    return Check(name, last - first <= bound, detail)


def trend_checks(samples: Sequence[Sample]) -> list[Check]:
    checks = []
    for label, series in _by_process(samples, "soak").items():
        for resource in TREND_BOUNDS:
            if resource != "tokens" or series[0].role == "worker":
                checks.append(trend_check(label, resource, series))
    return checks


def drain_checks(samples: Sequence[Sample]) -> list[Check]:
    """After the load: tokens back to 0, descriptors back to (about) their idle count."""
    idle = {label: series[0] for label, series in _by_process(samples, "idle").items()}
    checks = []
    for label, [after] in _by_process(samples, "drained").items():
        if after.role == "worker":
            checks.append(Check(f"{label} tokens drained", after.tokens == 0, f"{after.tokens}"))
        before = idle.get(label)
        if before is not None:
            # A worker's children are its process pool, each with its pipes to the worker.
            pool = after.children if after.role == "worker" else 0
            limit = before.fds + DRAIN_FD_SLACK + FDS_PER_CHILD * pool
            detail = f"{before.fds} idle -> {after.fds} drained (bound {limit})"
            checks.append(Check(f"{label} fds drained", after.fds <= limit, detail))
    if not checks:
        checks.append(Check("drained sample", False, "none taken"))
    return checks


def load_checks(soak: Soak, locust: Mapping[str, Any]) -> list[Check]:
    ids = [entry.id for entry in soak.catalogue]
    uncalled = [i for i in ids if locust["per_entry"].get(i, [0])[0] == 0]
    windows = soak.probe.windows if soak.probe is not None else []
    completed = sum(w.completed for w in windows)
    errors = sum(w.errors for w in windows)
    tally = soak.abandoner.tally if soak.abandoner is not None else AbandonTally()
    failures = f"{locust['failures']} failures; " + "; ".join(locust["failure_examples"])
    return [
        Check("locust exit code", locust["exit_code"] == 0, f"{locust['exit_code']}"),
        Check("locust requests", locust["requests"] > 0, f"{locust['requests']}"),
        Check("locust failures", locust["failures"] == 0, failures.strip("; ")),
        Check("whole catalogue called", bool(ids) and not uncalled, _called(ids, uncalled)),
        Check("probe answers", completed > 0, f"{completed} of {sum(w.sent for w in windows)}"),
        Check("probe errors", errors == 0, f"{errors}"),
        Check("abandoned on purpose", tally.unexpected == 0, _abandon_detail(tally)),
    ]


def _called(ids: Sequence[str], uncalled: Sequence[str]) -> str:
    if not ids:
        return "no catalogue"
    more = len(uncalled) - 5
    never = ", ".join(uncalled[:5]) + (f" and {more} more" if more > 0 else "")
    return f"{len(ids) - len(uncalled)} of {len(ids)} entries" + (
        f"; never: {never}" if uncalled else ""
    )


def _abandon_detail(tally: AbandonTally) -> str:
    detail = f"{tally.abandoned} cut off, {tally.finished} finished first"
    detail += f", {tally.unexpected} unexpected"
    return detail + "".join(f"; {e}" for e in tally.examples)


def server_checks(soak: Soak) -> list[Check]:
    sampler, log = soak.sampler, soak.log
    workers = len(sampler.workers)
    restarts = "; ".join(
        f"t={r['t_s']:g}s gone {r['gone']} new {r['new']}" for r in sampler.restarts
    )
    errors = f"{log.status_5xx} 5xx, {log.asgi_errors} ASGI errors" + "".join(
        f"; {line}" for line in log.examples
    )
    return [
        Check(
            "same workers",
            not sampler.restarts and workers == soak.args.workers,
            restarts or f"{workers} workers, none restarted",
        ),
        Check("server errors", log.status_5xx == 0 and log.asgi_errors == 0, errors),
        Check("sampling", not sampler.problems, "; ".join(sampler.problems[:5]) or "complete"),
        _left_behind_check(soak),
    ]


def _left_behind_check(soak: Soak) -> Check:
    # A process that outlived SIGTERM by seconds did not stop as it should have, even
    # if SIGKILL then ended it.
    server, locust = soak.server, soak.locust
    stuck = server.killed + server.left_behind + locust.killed + locust.left_behind
    detail = (
        f"server: {server.killed or 'none'} needed SIGKILL, {server.left_behind or 'none'} left;"
        f" locust: {locust.killed or 'none'} needed SIGKILL, {locust.left_behind or 'none'} left"
    )
    return Check("nothing left behind", not stuck, detail)


def verdict(soak: Soak, locust: Mapping[str, Any], signals: Sequence[str]) -> list[Check]:
    samples = soak.sampler.samples
    checks = [Check("run", not signals and not soak.problems, _run_detail(soak, signals))]
    checks += server_checks(soak) + load_checks(soak, locust)
    return checks + trend_checks(samples) + drain_checks(samples)


def _run_detail(soak: Soak, signals: Sequence[str]) -> str:
    detail = f"load for {soak.load_s:g}s"
    if signals:
        detail += f"; interrupted by {signals[0]}: partial"
    return detail + "".join(f"; {p}" for p in soak.problems)


# -- the report ------------------------------------------------------------------------------

_COLUMNS = (("fds", "fds", 4), ("threads", "thr", 4), ("rss_mib", "RSS MiB", 8))
_WORKER_COLUMNS = (("tokens", "tok", 4), ("children", "ch", 3))


def _columns(role: str) -> tuple[tuple[str, str, int], ...]:
    return _COLUMNS + (_WORKER_COLUMNS if role == "worker" else ())


def samples_table(samples: Sequence[Sample], windows: Sequence[ProbeWindow]) -> str:
    """One row per sample time, one group of columns per process, the probe's window last."""
    processes: dict[str, str] = {}
    for sample in samples:
        processes.setdefault(_label(sample), sample.role)
    widths = {label: sum(w + 1 for _, _, w in _columns(role)) for label, role in processes.items()}
    head = f"{'':>7} {'':<8}" + "".join(f" | {lbl:<{widths[lbl] - 1}}" for lbl in processes)
    sub = f"{'t s':>7} {'phase':<8}" + "".join(
        " |" + "".join(f" {title:>{w}}" for _, title, w in _columns(role))[1:]
        for role in processes.values()
    )
    lines = [head + " | probe around t", sub + " | p99 ms  max ms"]
    rows: dict[tuple[float, str], dict[str, Sample]] = {}
    for sample in samples:
        rows.setdefault((sample.t_s, sample.phase), {})[_label(sample)] = sample
    for (t_s, phase), by_label in rows.items():
        cells = "".join(_cells(by_label.get(lbl), role) for lbl, role in processes.items())
        window = _window_at(windows, t_s) if phase in ("warm-up", "soak") else None
        probe_cells = f" | {window.p99_ms:>6.1f} {window.max_ms:>7.1f}" if window else " |"
        lines.append(f"{t_s:>7.0f} {phase:<8}{cells}{probe_cells}")
    return "\n".join(lines)


def _window_at(windows: Sequence[ProbeWindow], t_s: float) -> ProbeWindow | None:
    # A sample is taken a little after its due time: match with a little slack.
    return next((w for w in windows if w.begin_s < t_s - 0.5 <= w.end_s), None)


def _cells(sample: Sample | None, role: str) -> str:
    columns = _columns(role)
    if sample is None:
        return " |" + "".join(f" {'-':>{w}}" for _, _, w in columns)[1:]
    values = []
    for name, _, width in columns:
        value = getattr(sample, name)
        text = f"{value:.1f}" if isinstance(value, float) else "-" if value is None else str(value)
        values.append(f"{text:>{width}}")
    return " | " + " ".join(values)


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    settings, locust, server = report["settings"], report["locust"], report["server"]
    abandoned = report["abandoned"]
    seconds = max(report["load_s"], 1)
    return [
        f"server: looplab serve --workers {settings['workers']} at {server['url']},"
        f" stopped in {server['stopped_in_s']} s after SIGTERM",
        f"locust: {locust['requests']} requests ({locust['requests'] / seconds:.0f}/s) over"
        f" {len(locust['per_entry'])} entries, {locust['failures']} failures;"
        f" {settings['users']} users, --lab-query {settings['query']}",
        _probe_line(report["probe"]["windows"], settings),
        f"abandoned on purpose: {abandoned['abandoned']} long requests cut off after"
        f" {settings['abandon_after']:g} s, {abandoned['unexpected']} unexpected answers",
    ]


def _probe_line(windows: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]) -> str:
    # Latency is reported, not judged: on a shared machine it moves with everything else.
    soak = [w["p99_ms"] for w in windows if w["begin_s"] >= settings["warmup"]]
    third = max(1, len(soak) // 3)
    trend = (
        f", first third {statistics.median(soak[:third]):.1f} ms,"
        f" last third {statistics.median(soak[-third:]):.1f} ms"
        if soak
        else ""
    )
    sent = sum(w["sent"] for w in windows)
    worst = max((w["max_ms"] for w in windows), default=0.0)
    return (
        f"probe: {sent} /ping at {settings['probe_rate']:g}/s; p99 per window after warm-up:"
        f" median {statistics.median(soak) if soak else 0:.1f} ms{trend}; max {worst:.1f} ms"
    )


def render(report: Mapping[str, Any]) -> str:
    samples = [Sample(**s) for s in report["samples"]]
    windows = [ProbeWindow(**w) for w in report["probe"]["windows"]]
    lines = [samples_table(samples, windows), "", *summary_lines(report), ""]
    bounds = ", ".join(f"{k} +{v:g}{UNITS.get(k, '')}" for k, v in TREND_BOUNDS.items())
    lines.append(f"bounds (last third's median minus first third's, after warm-up): {bounds}")
    for check in report["checks"]:
        mark = "ok  " if check["passed"] else "FAIL"
        lines.append(f"  {mark} {check['name']}: {check['detail']}")
    lines.append(f"{report['verdict']}" + "".join(f"\n  - {r}" for r in report["reasons"]))
    return "\n".join(lines)


def build_report(soak: Soak, signals: Sequence[str]) -> dict[str, Any]:
    locust = soak.locust.figures()
    checks = verdict(soak, locust, signals)
    failed = [c for c in checks if not c.passed]
    args = vars(soak.args).copy()
    args["json"] = str(args["json"]) if args["json"] else None
    return {
        "settings": args,
        "bounds": {
            "trend": dict(TREND_BOUNDS),
            "drain_fd_slack": DRAIN_FD_SLACK,
            "fds_per_child": FDS_PER_CHILD,
        },
        "partial": bool(signals),
        "load_s": soak.load_s,
        "server": {
            "url": soak.server.url,
            "supervisor": soak.sampler.supervisor,
            "workers": soak.sampler.workers,
            "restarts": soak.sampler.restarts,
            "status_5xx": soak.log.status_5xx,
            "asgi_errors": soak.log.asgi_errors,
            "stopped_in_s": soak.server.stopped_in_s,
        },
        "samples": [asdict(s) for s in soak.sampler.samples],
        "probe": {"windows": [asdict(w) for w in (soak.probe.windows if soak.probe else [])]},
        "locust": locust,
        "abandoned": asdict(soak.abandoner.tally if soak.abandoner else AbandonTally()),
        "checks": [asdict(c) for c in checks],
        "verdict": "FAIL" if failed else "PASS",
        "reasons": [f"{c.name}: {c.detail}" for c in failed],
    }


# -- the command -----------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m`` or ``1h``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (90, 90s, 30m, 1h)")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--duration", type=parse_duration, default="30m", help="load time, warm-up included")
    add("--warmup", type=parse_duration, default="60s", help="first part, judged by nothing")
    add("--interval", type=parse_duration, default="10s", help="time between samples")
    add("--drain", type=parse_duration, default="5s", help="wait after the load (> 2 s read)")
    add("--workers", type=int, default=2, help="looplab serve --workers")
    add("--users", type=int, default=10, help="locust LabUsers")
    add("--wait", type=float, default=0.1, help="seconds a LabUser waits between requests")
    add("--query", default=LIGHT_QUERY, help="the locustfile's --lab-query (light workload)")
    add("--probe-rate", type=float, default=50.0, help="/ping calls per second, open loop")
    add("--abandon-every", type=float, default=5.0, help="seconds between cut-offs (0: none)")
    add("--abandon-after", type=float, default=1.0, help="seconds before a cut-off")
    add("--json", type=Path, help="also write samples, figures and verdict to this file")
    args = parser.parse_args(argv)
    if args.duration - args.warmup < 3 * args.interval:
        parser.error("--duration must leave at least 3 intervals after --warmup")
    return args


def on_signals(event: threading.Event) -> list[str]:
    """SIGINT, SIGTERM and SIGHUP end the run cleanly; returns the names as they arrive."""
    received: list[str] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        event.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handle)
    return received


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    interrupted = threading.Event()
    signals = on_signals(interrupted)
    soak = Soak(args, interrupted)
    try:
        soak.run()
    # A server or locust that never started, or a /lab that is not a catalogue: a failed
    # run to report like any other, after the clean-up.
    except (RuntimeError, OSError, CatalogueError) as exc:
        soak.problems.append(str(exc))
    finally:
        soak.close()
    report = build_report(soak, signals)
    print(render(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    _tidy(soak, passed=report["verdict"] == "PASS")
    return 0 if report["verdict"] == "PASS" else 1


def _tidy(soak: Soak, passed: bool) -> None:
    # The logs are kept when the run failed: they are what to read next.
    if passed:
        soak.server.log_path.unlink(missing_ok=True)
        shutil.rmtree(soak.workdir, ignore_errors=True)
    else:
        print(f"logs: {soak.server.log_path} {soak.workdir}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
