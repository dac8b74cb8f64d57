"""Each kind of stall, made on purpose, is classified as that kind.

The rule (``looplab.monitor._evidence``): gc, else cpu, else starved, else gil,
else wait, each for at least half the stall.
"""

import gc
import json
import random
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import anyio
import pytest

from looplab.protocol import Stall
from looplab.testing import measure_lag

pytestmark = [pytest.mark.anyio, pytest.mark.timing]


def only_stall(stalls: list[Stall]) -> Stall:
    assert len(stalls) == 1, [stall.describe() for stall in stalls]
    return stalls[0]


async def test_a_sleep_is_wait() -> None:
    async with measure_lag() as lag:
        time.sleep(0.2)  # noqa: ASYNC251 (the block under test)
    stall = only_stall(lag.stalls)
    assert stall.kind == "wait", stall.evidence
    assert stall.blame is not None and stall.blame.function == "test_a_sleep_is_wait"


async def test_a_python_loop_is_cpu() -> None:
    async with measure_lag() as lag:
        # thread_time: the loop thread's own CPU, however busy the machine is.
        deadline = time.thread_time() + 0.2
        while time.thread_time() < deadline:
            pass
    stall = only_stall(lag.stalls)
    assert stall.kind == "cpu", stall.evidence
    assert stall.evidence is not None and stall.evidence.cpu_ms >= 150


def _cycles(count: int) -> list[list[object]]:
    heap: list[list[object]] = []
    for _ in range(count):
        first: list[object] = []
        first.append([first])
        heap.append(first)
    return heap


async def test_a_full_collection_is_gc() -> None:
    heap = _cycles(1_000_000)  # ~2 M containers: a full pass takes 100 ms or more
    try:
        async with measure_lag() as lag:
            gc.collect()
    finally:
        del heap
    stall = only_stall(lag.stalls)
    assert stall.kind == "gc", stall.evidence
    assert stall.evidence is not None and stall.evidence.gc_ms >= stall.duration_ms / 2


async def test_threads_holding_the_gil_are_gil() -> None:
    # A sort of shuffled floats is one C call that holds the GIL from start to end.
    deck = [random.random() for _ in range(400_000)]
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            sorted(deck)

    burners = [threading.Thread(target=burn) for _ in range(4)]
    async with measure_lag() as lag:
        for burner in burners:
            burner.start()
        await anyio.sleep(1.5)  # the loop only awaits
        stop.set()
        for burner in burners:
            burner.join()
    assert lag.stalls, "four GIL-holding threads never stalled the loop"
    time_by_kind = Counter[str]()
    for stall in lag.stalls:
        time_by_kind[stall.kind] += stall.duration_ms
    assert time_by_kind.most_common(1)[0][0] == "gil", time_by_kind
    assert max(lag.stalls, key=lambda stall: stall.duration_ms).kind == "gil"
    assert "cpu" not in time_by_kind


STARVED = """
import asyncio, json, os, subprocess, sys, time

from looplab.testing import measure_lag  # imported at full speed, before the nice

# A busy process at nice 0 on CPU 0, then this one (every thread it starts after this
# inherits it) at nice 19 on the same CPU: runnable, but hardly ever run.
SPIN = "import os\\nos.sched_setaffinity(0, {0})\\nwhile True: pass"
spinner = subprocess.Popen([sys.executable, "-c", SPIN])
os.sched_setaffinity(0, {0})
os.nice(19)


async def main():
    time.sleep(0.3)
    async with measure_lag() as lag:
        for _ in range(2):
            deadline = time.thread_time() + 0.02
            while time.thread_time() < deadline:
                pass
            await asyncio.sleep(0.2)
    print(json.dumps([stall.model_dump(mode="json") for stall in lag.stalls]))

try:
    asyncio.run(main())
finally:
    spinner.kill()
"""


def test_a_descheduled_loop_is_starved() -> None:
    if not hasattr(__import__("os"), "sched_setaffinity"):
        pytest.skip("needs Linux's sched_setaffinity")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(STARVED)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    stalls = [Stall.model_validate(raw) for raw in json.loads(done.stdout)]
    # 20 ms of CPU at a fortieth of a core take about a second of wall time.
    long = [stall for stall in stalls if stall.duration_ms >= 300]
    assert long, [stall.describe() for stall in stalls]
    assert {stall.kind for stall in long} == {"starved"}, [s.evidence for s in long]
    assert all(
        stall.evidence is not None
        and stall.evidence.runqueue_ms is not None
        and stall.evidence.runqueue_ms >= stall.duration_ms / 2
        for stall in long
    )
