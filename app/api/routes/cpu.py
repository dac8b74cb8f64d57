"""The ``cpu`` family: pure-Python CPU work, in three approaches.

The work is ``app.work.burn_cpu``: integer mixing until the thread has used
``cpu_ms`` of CPU time. Waiting can move to a thread; computing in Python cannot
escape the GIL there, only in another process.
"""

import time

import anyio.to_process
from asyncer import asyncify
from fastapi import APIRouter
from pydantic import BaseModel

from app.api.catalogued import catalogued
from app.api.params import CpuMs
from app.catalogue import CPU_MS
from app.work import CpuResult, burn_cpu

__all__ = ["CpuResponse", "router"]

router = APIRouter(prefix="/lab/cpu", tags=["cpu"])


class CpuResponse(BaseModel):
    digest: str
    rounds: int
    cpu_ms: float
    elapsed_ms: float


def _respond(result: CpuResult, started: float) -> CpuResponse:
    return CpuResponse(
        digest=result.digest,
        rounds=result.rounds,
        cpu_ms=result.cpu_ms,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


# 🚨 Don't use this: the loop computes, and serves nothing else, until the work is done.
@router.get("/inline", **catalogued("cpu.inline"))
async def cpu_inline(cpu_ms: CpuMs = CPU_MS.default) -> CpuResponse:
    started = time.perf_counter()
    return _respond(burn_cpu(cpu_ms), started)


# ⚠️ A thread frees the loop only between GIL switches: fine alone, stalls under concurrency.
@router.get("/asyncify", **catalogued("cpu.asyncify"))
async def cpu_asyncify(cpu_ms: CpuMs = CPU_MS.default) -> CpuResponse:
    started = time.perf_counter()
    return _respond(await asyncify(burn_cpu)(cpu_ms), started)


# ✅ Another process, another GIL: the loop only waits for the result.
@router.get("/process", **catalogued("cpu.process"))
async def cpu_process(cpu_ms: CpuMs = CPU_MS.default) -> CpuResponse:
    started = time.perf_counter()
    return _respond(await anyio.to_process.run_sync(burn_cpu, cpu_ms, cancellable=True), started)
