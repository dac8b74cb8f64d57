"""One event-loop stall, measured twice: by locust's users and by looplab's open-loop probe.

    uv run python benchmarks/locust_vs_probe.py [--stall-ms 2000] [--rate 200] [--seconds 12]

A uvicorn server runs the lab app (or pass ``--url``). Locust runs the
``ProbeUser`` of ``benchmarks/locustfile.py``, calling ``/ping`` at ``--rate``
per second; at the same time and rate, ``looplab.bench.probe`` calls ``/ping``
open-loop, timing each request from the moment it was due. A third of the way
in, one request to the catalogue's blocking ``read.inline`` entry holds the
server's event loop for ``--stall-ms``. Both then report /ping's percentiles
for the very same stall.

Locust's user waits for its answer before asking again: during the stall it
sends nothing, so the stall is one slow sample among thousands (coordinated
omission). The probe keeps its schedule, so every request that fell due during
the stall shows how long it waited.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from looplab.bench import ServerProcess, fetch_catalogue, probe

# The lab's app, as ``looplab serve`` and ``looplab bench`` start it.
LAB_APP = "app.main:app"

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
FIGURES = ("p50", "p90", "p99", "max")
# Locust's printed percentile columns, by the names the probe uses.
_LOCUST_COLUMNS = {"p50": "50%", "p90": "90%", "p99": "99%", "max": "100%"}


def stall_url(url: str, entry_id: str, param: str, stall_ms: int) -> str:
    """The catalogue entry's URL with its ``workload``, ``param`` raised to ``stall_ms``."""
    catalogue = fetch_catalogue(url) or []
    entry = next((e for e in catalogue if e.id == entry_id), None)
    if entry is None or param not in entry.params:
        raise SystemExit(f"no catalogue entry {entry_id} with a {param} parameter at {url}/lab")
    limit = entry.params[param].max
    if limit is not None and stall_ms > limit:
        raise SystemExit(f"{entry_id} accepts {param} up to {limit}, not {stall_ms}")
    return entry.url(url, **{param: stall_ms})


def locust_percentiles(output: str, name: str) -> dict[str, float]:
    """A row of the percentile table locust prints when it stops (final, unlike --csv)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "Response time percentiles" in line)
    header = lines[start + 1].split()
    for line in lines[start + 2 :]:
        cells = line.split()
        if len(cells) > 2 and cells[1] == name:
            row = dict(zip(header[2:], cells[2:], strict=False))
            figures = {key: float(row[column]) for key, column in _LOCUST_COLUMNS.items()}
            figures["requests"] = float(cells[-1])
            return figures
    raise ValueError(f"no {name} row in locust's summary:\n{output}")


@dataclass
class LocustRun:
    """A locust process and everything it has printed (stdout and stderr, merged)."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def locust_ping(url: str, rate: float, seconds: int) -> Iterator[LocustRun]:
    """Locust's ProbeUser alone, one user at ``rate``/s; yields once it is spawned."""
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "ProbeUser",
        "--headless", "-u", "1", "-r", "1", "-t", f"{seconds}s", "--host", url,
        "--probe-rate", str(rate), "--only-summary",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    run = LocustRun(process)
    spawned = threading.Event()

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            run.lines.append(line)
            if "All users spawned" in line:
                spawned.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not spawned.wait(0.1):
            if process.poll() is not None or time.monotonic() > deadline:
                reader.join(5)
                raise SystemExit("locust did not start:\n" + run.output)
        yield run
        process.wait(seconds + 30)
        reader.join(5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def probe_with_stall(
    url: str, rate: float, seconds: float, stall: str, stall_after: float
) -> tuple[dict[str, float], float, int]:
    """Probe ``/ping`` open-loop while one request to ``stall`` blocks the server."""

    async def stall_once() -> float:
        await asyncio.sleep(stall_after)
        began = time.monotonic()
        # A thread, so the probe's own loop keeps its schedule while this waits.
        await asyncio.to_thread(lambda: urllib.request.urlopen(stall, timeout=60).read())
        return (time.monotonic() - began) * 1000

    result, stall_ms = await asyncio.gather(
        probe(url + "/ping", rate_hz=rate, duration_s=seconds), stall_once()
    )
    figures = {key: float(getattr(result.probe_ms, key)) for key in FIGURES}
    figures["requests"] = float(result.completed)
    return figures, stall_ms, result.errors


def compare(url: str, args: argparse.Namespace) -> dict[str, Any]:
    stall = stall_url(url, args.stall_id, args.stall_param, args.stall_ms)
    window = args.seconds
    # Locust runs a little longer than the probe's window, so both cover the stall.
    locust_seconds = math.ceil(window + 2)
    with locust_ping(url, args.rate, locust_seconds) as locust:
        probed, stall_took_ms, probe_errors = asyncio.run(
            probe_with_stall(url, args.rate, window, stall, window / 3)
        )
    output = locust.output
    if locust.process.returncode != 0:
        raise SystemExit(f"locust exited {locust.process.returncode}:\n{output}")
    return {
        "stall": stall.removeprefix(url),
        "stall_took_ms": round(stall_took_ms),
        "rate_per_s": args.rate,
        "locust_seconds": locust_seconds,
        "probe_seconds": window,
        "locust": locust_percentiles(output, "/ping"),
        "probe": probed,
        "probe_errors": probe_errors,
    }


def report(result: Mapping[str, Any]) -> str:
    lines = [
        f"stall: GET {result['stall']} took {result['stall_took_ms']} ms;"
        f" /ping at {result['rate_per_s']:g}/s from both"
        f" (locust for {result['locust_seconds']} s, the probe for {result['probe_seconds']:g} s"
        " inside it)",
        f"{'/ping latency (ms)':<30}" + "".join(f"{key:>9}" for key in (*FIGURES, "requests")),
    ]
    for who, label in (("locust", "locust ProbeUser (closed)"), ("probe", "looplab probe (open)")):
        figures = result[who]
        cells = "".join(f"{figures[key]:>9.0f}" for key in (*FIGURES, "requests"))
        lines.append(f"{label:<30}{cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running lab server (default: start one)")
    parser.add_argument("--stall-ms", type=int, default=2000, help="length of the one stall")
    parser.add_argument("--stall-id", default="read.inline", help="catalogue entry that blocks")
    parser.add_argument("--stall-param", default="delay_ms", help="its parameter for the stall")
    parser.add_argument("--rate", type=float, default=200.0, help="/ping calls per second")
    parser.add_argument("--seconds", type=float, default=12.0, help="probe window")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.url:
        result = compare(args.url.rstrip("/"), args)
    else:
        with ServerProcess(LAB_APP) as server:
            result = compare(server.url, args)
    print(json.dumps(result, indent=2) if args.json else report(result))


if __name__ == "__main__":
    main()
