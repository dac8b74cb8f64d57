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
It measures the monitor's own CPU directly, in this process: the ticker's cost
per tick, and the watchdog thread's CPU time beside a saturated loop.

Last, two side-by-side measurements in this process, alternating variants over
many short rounds (median of per-round figures), on process CPU time:

* a tight loop of ``await asyncio.sleep(0)``: iterations per CPU second with no
  monitor, with no monitor but one idle thread, and with the monitor;
* ``/ping`` driven straight through the ASGI app (a task per request, as uvicorn
  does), with the monitor off, off beside an idle thread, and on (with its request
  tracker): the extra CPU per request, and its share of the server's per-request CPU.

The idle thread is there because on this kind of machine any second thread costs a
process ~3% on a tight loop even if it never wakes (the watchdog is a thread); an app
that has used the thread pool once (a ``def`` route, ``run_in_threadpool``, a
``FileResponse``) already pays that, so the monitor's own cost is measured against
both. Targets: <= 1.02x on the tight loop, <= 2% CPU per request.
``--json PATH`` also writes the figures to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from looplab.bench import ServerProcess, load
from looplab.monitor import LoopMonitor

TARGET_RATIO = 0.97
TIGHT_LOOP_TARGET = 1.02
PER_REQUEST_TARGET = 0.02


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


class IdleThread:
    """A thread that exists and never wakes: what a used thread pool leaves behind."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._stop.wait, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


async def spin_cost_us(seconds: float) -> float:
    """CPU microseconds per iteration of a loop that only yields."""
    count, deadline, cpu = 0, time.perf_counter() + seconds, time.process_time()
    while time.perf_counter() < deadline:
        await asyncio.sleep(0)
        count += 1
    return (time.process_time() - cpu) / count * 1e6


async def tight_loop(rounds: int, seconds: float = 0.4) -> dict[str, float]:
    """Median cost ratio to "off" of each variant, the variants' order rotating per round."""
    variants: dict[str, Any] = {"off": None, "idle-thread": IdleThread, "monitor": LoopMonitor}
    costs: dict[str, list[float]] = {name: [] for name in variants}
    await spin_cost_us(seconds)
    names = list(variants)
    for index in range(rounds):
        for name in names[index % 3 :] + names[: index % 3]:
            make = variants[name]
            running = make() if make is not None else None
            if running is not None:
                running.start()
            costs[name].append(await spin_cost_us(seconds))
            if running is not None:
                running.stop()
    return {
        name: statistics.median(x / o for x, o in zip(costs[name], costs["off"], strict=True))
        for name in names
    }


_PING_SCOPE = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
    "scheme": "http", "path": "/ping", "raw_path": b"/ping", "query_string": b"",
    "root_path": "", "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 80),
}  # fmt: skip


def _ping_app(monitor: bool) -> Any:
    from fastapi import FastAPI

    from looplab.monitor import instrument

    app = FastAPI()
    instrument(app, enabled=monitor, metrics=False, env={})
    return app


async def _asgi_cost_us(app: Any, requests: int, idle_thread: bool) -> float:
    """CPU microseconds per ``/ping`` through ``app``, each request in a task of its own."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    loop = asyncio.get_running_loop()
    idle = IdleThread() if idle_thread else None
    if idle is not None:
        idle.start()
    async with app.router.lifespan_context(app):
        for _ in range(requests // 5):  # warm-up
            await loop.create_task(app(dict(_PING_SCOPE), receive, send))
        cpu = time.process_time()
        for _ in range(requests):
            await loop.create_task(app(dict(_PING_SCOPE), receive, send))
        cost = (time.process_time() - cpu) / requests * 1e6
    if idle is not None:
        idle.stop()
    return cost


def per_request(rounds: int, requests: int = 10_000) -> dict[str, float]:
    """Median extra CPU microseconds per request of each variant over "off"."""
    variants = {"off": (False, False), "idle-thread": (False, True), "monitor": (True, False)}
    costs: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for index in range(rounds):
        for name in names[index % 3 :] + names[: index % 3]:
            monitor, idle = variants[name]
            # A fresh loop per run: the request tracker's task factory stays on its loop.
            costs[name].append(asyncio.run(_asgi_cost_us(_ping_app(monitor), requests, idle)))
    return {
        name: statistics.median(x - o for x, o in zip(costs[name], costs["off"], strict=True))
        for name in names
    }


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
    loop_ratios = asyncio.run(tight_loop(args.rounds * 2))
    marginal = loop_ratios["monitor"] / loop_ratios["idle-thread"]
    print(
        f"tight loop (await asyncio.sleep(0)), cost vs no monitor: idle thread "
        f"x{loop_ratios['idle-thread']:.3f}, monitor x{loop_ratios['monitor']:.3f}; "
        f"the monitor beside a thread x{marginal:.3f} (target <= {TIGHT_LOOP_TARGET})"
    )
    extra = per_request(args.rounds)
    own_extra = extra["monitor"] - extra["idle-thread"]
    print(
        f"/ping through the ASGI app, extra CPU per request: idle thread "
        f"{extra['idle-thread']:+.2f} us, monitor {extra['monitor']:+.2f} us; the monitor "
        f"beside a thread {own_extra:+.2f} us = {own_extra / cost_off:.2%} of the server's "
        f"{cost_off:.0f} us per request (target <= {PER_REQUEST_TARGET:.0%})"
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
            "tight_loop_ratios": {k: round(v, 4) for k, v in loop_ratios.items()},
            "asgi_extra_us_per_request": {k: round(v, 3) for k, v in extra.items()},
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
