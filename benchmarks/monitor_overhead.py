"""What the loop monitor costs: ``/ping`` throughput of uvicorn with the monitor on and off.

    uv run python benchmarks/monitor_overhead.py --rounds 15 --seconds 2

Two uvicorn servers (``app.main:app``) run side by side in their own processes,
one with ``LOOPLAB_MONITOR=1`` and one with ``LOOPLAB_MONITOR=0``. Each round
saturates ``/ping`` of one, then of the other (which goes first alternates), from
keep-alive raw sockets: looplab's own asyncio load generator, since
``httpx.AsyncClient`` tops out near 200 requests/s and would hide the difference.
Short alternating runs, many rounds and the median of the per-round ratios keep a
drift in machine load (other processes) from favouring either side. It prints
requests/s per run and the median ratio on/off; the target is >= 0.97.

On a machine shared with other work, throughput swings by tens of percent from
run to run whatever the monitor does, so it also reports the server's CPU time
per request (Linux ``/proc/<pid>/stat``), summed over all rounds: the ratio
off/on of that cost is the throughput ratio an uncontended core would show.
Last, it measures the monitor's own CPU directly, in this process: the ticker's
cost per tick, and the watchdog thread's CPU time beside a saturated loop.
``--json PATH`` also writes the figures to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from looplab.bench import ServerProcess, load
from looplab.monitor import LoopMonitor

TARGET_RATIO = 0.97


@dataclass
class Run:
    rps: float
    requests: int
    cpu_s: float


@dataclass
class Round:
    on: Run
    off: Run

    @property
    def ratio(self) -> float:
        return self.on.rps / self.off.rps


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux)."""
    return cpu_seconds_of(Path(f"/proc/{pid}/stat"))


def cpu_seconds_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5), 12 and 13 after "(comm) ".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server: ServerProcess, args: argparse.Namespace) -> Run:
    """Saturate ``/ping`` of ``server`` for ``args.seconds``."""
    url = server.url + "/ping"
    cpu_before = cpu_seconds(server.pid)
    result = asyncio.run(load(url, concurrency=args.connections, duration_s=args.seconds))
    cpu = cpu_seconds(server.pid) - cpu_before
    if result.errors:
        raise RuntimeError(f"{result.errors} failed requests to {url}")
    return Run(rps=result.throughput_rps, requests=result.requests, cpu_s=cpu)


def server(monitor: bool, args: argparse.Namespace) -> ServerProcess:
    env = {"LOOPLAB_MONITOR": "1" if monitor else "0"}
    return ServerProcess(args.app, loop=args.loop, env=env, ready_path="/ping")


def run_rounds(args: argparse.Namespace) -> list[Round]:
    rounds = []
    with server(True, args) as on_server, server(False, args) as off_server:
        servers = {True: on_server, False: off_server}
        for running in servers.values():
            url = running.url + "/ping"
            asyncio.run(load(url, concurrency=args.connections, duration_s=args.warmup))
        for index in range(args.rounds):
            # Alternate which goes first, so a drift in machine load favours neither.
            order = (True, False) if index % 2 == 0 else (False, True)
            runs = {monitor: measure(servers[monitor], args) for monitor in order}
            rounds.append(Round(on=runs[True], off=runs[False]))
            print(
                f"round {index + 1:2d}: on {runs[True].rps:8.0f} req/s  "
                f"off {runs[False].rps:8.0f} req/s  ratio {rounds[-1].ratio:.3f}",
                flush=True,
            )
    return rounds


def thread_cpu_seconds(native_id: int) -> float:
    """User + system CPU time of one thread of this process so far (Linux)."""
    return cpu_seconds_of(Path(f"/proc/self/task/{native_id}/stat"))


async def own_cost(seconds: float = 5.0) -> tuple[float, float]:
    """(ticker microseconds per tick, watchdog share of a core) beside a saturated loop."""
    monitor = LoopMonitor(prometheus=True)
    monitor.window("bench")  # a consumer's window besides the default one
    monitor.start()
    watchdog = monitor._bench_watchdog_native_id()
    started, cpu_before = time.perf_counter(), thread_cpu_seconds(watchdog)
    # A loop that never idles, like a saturated server's.
    while time.perf_counter() - started < seconds:  # noqa: ASYNC110 (busy on purpose)
        await asyncio.sleep(0)
    watchdog_share = (thread_cpu_seconds(watchdog) - cpu_before) / (time.perf_counter() - started)
    ticks = 20_000
    tick_started = time.perf_counter()
    for _ in range(ticks):
        monitor._bench_record_tick()
    per_tick_us = (time.perf_counter() - tick_started) / ticks * 1e6
    monitor.stop()
    return per_tick_us, watchdog_share


def cpu_per_request_us(runs: list[Run]) -> float:
    return sum(run.cpu_s for run in runs) / sum(run.requests for run in runs) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="on/off pairs (at least 5)")
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument(
        "--loop",
        default="auto",
        help="the servers' loop: auto, asyncio (looplab's timed loop), uvloop or module:factory",
    )
    parser.add_argument("--app", default="app.main:app", help="ASGI app import string")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5: one pair says little on a busy machine")

    rounds = run_rounds(args)
    median = statistics.median(r.ratio for r in rounds)
    verdict = "meets" if median >= TARGET_RATIO else "misses"
    print(f"median ratio on/off over {len(rounds)} rounds: {median:.3f} ({verdict} {TARGET_RATIO})")
    cost_on = cpu_per_request_us([r.on for r in rounds])
    cost_off = cpu_per_request_us([r.off for r in rounds])
    print(
        f"server CPU per request: on {cost_on:.1f} us, off {cost_off:.1f} us; "
        f"CPU-bound ratio on/off {cost_off / cost_on:.3f}"
    )
    per_tick_us, watchdog_share = asyncio.run(own_cost())
    ticks_per_s = 1 / LoopMonitor().interval_s
    ticker_share = per_tick_us * ticks_per_s / 1e6
    print(
        f"monitor's own CPU: ticker {per_tick_us:.1f} us/tick x {ticks_per_s:.0f}/s = "
        f"{ticker_share:.2%} of a core, watchdog thread {watchdog_share:.2%} of a core "
        f"(to one clock tick, {1 / os.sysconf('SC_CLK_TCK') * 1e3:.0f} ms, in 5 s)"
    )
    if args.json is not None:
        document = {
            "command": " ".join(sys.argv),
            "loop": args.loop,
            "connections": args.connections,
            "seconds": args.seconds,
            "rounds": [{**asdict(r), "ratio": round(r.ratio, 4)} for r in rounds],
            "median_ratio": round(median, 4),
            "target_ratio": TARGET_RATIO,
            "cpu_per_request_us": {"on": round(cost_on, 2), "off": round(cost_off, 2)},
            "cpu_ratio": round(cost_off / cost_on, 4),
            "own_cpu": {
                "ticker_us_per_tick": round(per_tick_us, 2),
                "ticker_share": round(ticker_share, 5),
                "watchdog_share": round(watchdog_share, 5),
            },
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
