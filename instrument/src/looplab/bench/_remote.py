"""What the bench asks the server between runs: its monitor window, /ping, its memory.

These are a few calls per run from the bench's own process, on short-lived
connections, never during the measured part of a run except the monitor reset
and read that frame it.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from looplab.protocol import MonitorSnapshot

__all__ = [
    "BENCH_WINDOW",
    "DrainTimeout",
    "NoProbeRoute",
    "Server",
    "peak_rss_bytes",
    "peak_rss_reset",
    "rss_bytes",
    "tree_cpu_share",
]

# The bench's own named window: a dashboard reading the default window is not disturbed.
BENCH_WINDOW = "looplab-bench"
_DRAIN_WINDOW = "looplab-bench-drain"
# An idle server (the monitor's ticker, uvicorn's timers) uses a few percent of a core;
# a cut-off request still at work uses most of one.
_QUIET_CPU_SHARE = 0.3
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class DrainTimeout(RuntimeError):
    """The server was still busy with a previous run's leftovers after the drain timeout."""


class NoProbeRoute(RuntimeError):
    """The server answers, but not at the /ping the bench was told to probe."""


class Server:
    """The server under test, seen through HTTP from the bench's process.

    ``base`` serves the app (and its catalogue at ``/lab``); looplab's own routes,
    ``/ping`` and ``/monitor``, live under ``base`` + ``monitor_prefix``.
    """

    def __init__(self, base: str, monitor_prefix: str = "") -> None:
        self.base = base.rstrip("/")
        self.monitor_base = self.base + monitor_prefix.rstrip("/")
        self.ping_url = self.monitor_base + "/ping"

    def check_ping(self) -> None:
        """Fail at once, and say why, when there is no /ping where the bench will probe."""
        try:
            self.ping_ms()
        except urllib.error.HTTPError as exc:
            raise NoProbeRoute(
                f"GET {self.ping_url} answered {exc.code}: the bench probes looplab's /ping. "
                "If the app mounts looplab under a prefix (instrument(app, prefix=...)), pass "
                "--monitor-prefix; an app without looplab can be probed with `looplab probe`."
            ) from None

    def has_monitor(self) -> bool:
        try:
            self.monitor()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    def monitor(self, window: str = BENCH_WINDOW, *, reset: bool = False) -> MonitorSnapshot:
        query = f"?window={window}" + ("&reset=true" if reset else "")
        with urllib.request.urlopen(f"{self.monitor_base}/monitor{query}", timeout=10) as response:
            return MonitorSnapshot.model_validate_json(response.read())

    def ping_ms(self, timeout: float = 10.0) -> float:
        started = time.perf_counter()
        with urllib.request.urlopen(self.ping_url, timeout=timeout) as response:
            response.read()
        return (time.perf_counter() - started) * 1e3

    def warm_up(self, url: str, timeout: float = 120.0) -> None:
        """One request, read to the end: first calls (imports, pools) stay out of the runs."""
        with urllib.request.urlopen(url, timeout=timeout) as response:
            while response.read(1 << 20):
                pass

    def wait_drained(
        self, *, fast_ms: float, check_threads: bool, pid: int | None, timeout: float = 60.0
    ) -> float:
        """Wait until the server is quiet: no CPU burnt, /ping fast, no thread token borrowed.

        Returns the seconds waited. A previous run's cut-off requests may still be
        running on the server (a blocking read holds the loop, a thread holds a
        token, a process-pool worker burns a core), and they would be measured as
        the next entry's doing. The checks go cheapest first; the monitor, whose
        snapshot costs the server a little, is asked once they all pass.
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if pid is not None and tree_cpu_share(pid, 0.1) > _QUIET_CPU_SHARE:
                continue
            if not all(self._ping_fast(fast_ms) for _ in range(3)):
                time.sleep(0.05)
                continue
            if check_threads:
                pool = self.monitor(_DRAIN_WINDOW, reset=True).threadpool
                if pool.borrowed or pool.waiting:
                    time.sleep(0.05)
                    continue
            return time.monotonic() - started
        raise DrainTimeout(f"the server did not drain in {timeout:.0f}s")

    def _ping_fast(self, fast_ms: float) -> bool:
        try:
            return self.ping_ms() <= fast_ms
        except (urllib.error.URLError, OSError):
            return False


def _tree_cpu_seconds(root: int) -> float:
    """CPU seconds used by ``root`` and its descendants (process-pool workers, say)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited while we looked
        # The command name is in parentheses and may hold spaces: split after it.
        fields = text[text.rindex(")") + 2 :].split()
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(cpu.get(pid, 0.0) for pid in tree)


def tree_cpu_share(pid: int, interval_s: float) -> float:
    """The share of a core ``pid`` and its children used over ``interval_s`` (0: no /proc)."""
    if not Path(f"/proc/{pid}/stat").exists():
        return 0.0
    before = _tree_cpu_seconds(pid)
    time.sleep(interval_s)
    return (_tree_cpu_seconds(pid) - before) / interval_s


def rss_bytes(pid: int) -> int | None:
    """The resident set size of ``pid`` from ``/proc`` (None where there is no /proc)."""
    return _status_kib(pid, "VmRSS")


def peak_rss_reset(pid: int) -> bool:
    """Reset the peak RSS (VmHWM) of ``pid``; False if the kernel does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes(pid: int) -> int | None:
    """The peak resident set size of ``pid`` since it started or since ``peak_rss_reset``."""
    return _status_kib(pid, "VmHWM")


def _status_kib(pid: int, key: str) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return None
