"""What the loop monitor costs: ``/ping`` throughput of uvicorn with the monitor on and off.

    uv run python benchmarks/monitor_overhead.py --rounds 5 --seconds 5

Each round starts a fresh uvicorn (``app.main:app``) in its own process, once with
``LOOPLAB_MONITOR=1`` and once with ``LOOPLAB_MONITOR=0`` (which of the two goes
first alternates), warms it up, then saturates ``/ping`` from keep-alive raw
sockets (looplab's own asyncio load generator: ``httpx.AsyncClient`` tops out near
200 requests/s and would hide the difference). It prints requests/s per run and
the median of the per-round ratios on/off; the target is >= 0.97.
``--json PATH`` also writes the figures to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from looplab.bench.load import load
from looplab.server import ServerProcess

TARGET_RATIO = 0.97


@dataclass
class Round:
    on_rps: float
    off_rps: float

    @property
    def ratio(self) -> float:
        return self.on_rps / self.off_rps


def measure(monitor: bool, args: argparse.Namespace) -> float:
    """Requests/s of ``/ping`` on a fresh server with the monitor on or off."""
    env = {"LOOPLAB_MONITOR": "1" if monitor else "0"}
    with ServerProcess(args.app, loop=args.loop, env=env, ready_path="/ping") as server:
        url = server.url + "/ping"
        asyncio.run(load(url, concurrency=args.connections, duration_s=args.warmup))
        result = asyncio.run(load(url, concurrency=args.connections, duration_s=args.seconds))
    if result.errors:
        raise RuntimeError(f"{result.errors} failed requests to {url}")
    return result.throughput_rps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="on/off pairs (at least 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--loop", default="auto", help="uvicorn --loop (auto, asyncio, ...)")
    parser.add_argument("--app", default="app.main:app", help="ASGI app import string")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5: one pair says little on a busy machine")

    rounds = []
    for index in range(args.rounds):
        # Alternate which goes first, so a drift in machine load favours neither.
        first_on = index % 2 == 0
        first = measure(first_on, args)
        second = measure(not first_on, args)
        on, off = (first, second) if first_on else (second, first)
        rounds.append(Round(on_rps=on, off_rps=off))
        print(f"round {index + 1}: on {on:8.0f} req/s  off {off:8.0f} req/s  ratio {on / off:.3f}")

    median = statistics.median(r.ratio for r in rounds)
    verdict = "meets" if median >= TARGET_RATIO else "misses"
    print(f"median ratio on/off over {len(rounds)} rounds: {median:.3f} ({verdict} {TARGET_RATIO})")
    if args.json is not None:
        document = {
            "command": " ".join(sys.argv),
            "loop": args.loop,
            "connections": args.connections,
            "seconds": args.seconds,
            "rounds": [{**asdict(r), "ratio": round(r.ratio, 4)} for r in rounds],
            "median_ratio": round(median, 4),
            "target_ratio": TARGET_RATIO,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
