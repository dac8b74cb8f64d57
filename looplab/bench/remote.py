"""What the bench asks the server between runs: its monitor window, /ping, its memory.

These are a few calls per run from the bench's own process, on short-lived
connections, never during the measured part of a run except the monitor reset
and read that frame it.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH_WINDOW",
    "DrainTimeout",
    "MonitorFigures",
    "Server",
    "peak_rss_bytes",
    "peak_rss_reset",
    "rss_bytes",
]

# The bench's own named window: a dashboard reading the default window is not disturbed.
BENCH_WINDOW = "looplab-bench"
_DRAIN_WINDOW = "looplab-bench-drain"


class DrainTimeout(RuntimeError):
    """The server was still busy with a previous run's leftovers after the drain timeout."""


@dataclass(frozen=True)
class MonitorFigures:
    """The server-side figures of one run, from its ``/monitor`` window."""

    backend: str | None
    lag_p99_ms: float
    lag_max_ms: float
    threadpool_peak_borrowed: int
    stall_count: int
    stall_total_ms: float
    top_blocker: dict[str, Any] | None

    @classmethod
    def from_snapshot(cls, snap: dict[str, Any]) -> MonitorFigures:
        stalls = snap["stalls"]
        recent = [float(s["duration_ms"]) for s in stalls.get("recent", [])]
        count = int(stalls["count"])
        total = float(stalls.get("total_ms", 0.0)) or sum(recent)
        if count > len(recent):
            # The window keeps only its latest stalls; the blamed ones are all in `top`.
            total = max(total, sum(float(t["total_ms"]) for t in stalls.get("top", [])))
        top = stalls.get("top") or []
        blocker = {k: top[0][k] for k in ("file", "line", "function")} if top else None
        return cls(
            backend=snap["loop"].get("backend"),
            lag_p99_ms=float(snap["loop"]["lag_ms"]["p99"]),
            lag_max_ms=float(snap["loop"]["lag_ms"]["max"]),
            threadpool_peak_borrowed=int(snap["threadpool"]["peak_borrowed"]),
            stall_count=count,
            stall_total_ms=round(total, 3),
            top_blocker=blocker,
        )


class Server:
    """The server under test, seen through HTTP from the bench's process."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def get_json(self, path: str, timeout: float = 10.0) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=timeout) as response:
            return json.load(response)

    def has_monitor(self) -> bool:
        try:
            self.get_json(f"/monitor?window={BENCH_WINDOW}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    def monitor(self, window: str = BENCH_WINDOW, *, reset: bool = False) -> dict[str, Any]:
        query = f"?window={window}" + ("&reset=true" if reset else "")
        snap = self.get_json("/monitor" + query)
        assert isinstance(snap, dict)
        return snap

    def ping_ms(self, timeout: float = 10.0) -> float:
        started = time.perf_counter()
        with urllib.request.urlopen(self.base + "/ping", timeout=timeout) as response:
            response.read()
        return (time.perf_counter() - started) * 1e3

    def warm_up(self, url: str, timeout: float = 120.0) -> None:
        """One request, read to the end: first calls (imports, pools) stay out of the runs."""
        with urllib.request.urlopen(url, timeout=timeout) as response:
            while response.read(1 << 20):
                pass

    def wait_drained(self, *, fast_ms: float, check_threads: bool, timeout: float = 60.0) -> float:
        """Wait until no thread token is borrowed and /ping answers fast three times in a row.

        Returns the seconds waited. A previous run's cut-off requests may still be
        running on the server (a blocking read holds the loop; a thread holds a
        token), and they would be measured as the next entry's doing.
        """
        started = time.monotonic()
        fast_in_a_row = 0
        while fast_in_a_row < 3:
            if time.monotonic() - started > timeout:
                raise DrainTimeout(f"the server did not drain in {timeout:.0f}s")
            if check_threads:
                pool = self.monitor(_DRAIN_WINDOW)["threadpool"]
                if pool["borrowed"] or pool["waiting"]:
                    fast_in_a_row = 0
                    time.sleep(0.05)
                    continue
            try:
                fast = self.ping_ms() <= fast_ms
            except (urllib.error.URLError, OSError):
                fast = False
            fast_in_a_row = fast_in_a_row + 1 if fast else 0
            if not fast:
                time.sleep(0.02)
        return time.monotonic() - started


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
