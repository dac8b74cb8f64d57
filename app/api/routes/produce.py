"""The ``produce`` family: collect the tokens of an async producer, in three approaches.

The work is ``app.work.produce_tokens``: an async generator that waits
``item_delay_ms`` before each of its ``items`` tokens, like an LLM client or an
async HTTP call. The question here is how sync code can call async code.
"""

import asyncio
import time

from asyncer import syncify
from fastapi import APIRouter
from pydantic import BaseModel

from app.api.catalogued import catalogued
from app.api.params import ItemDelayMs, Items, Source
from app.catalogue import ITEM_DELAY_MS, ITEMS
from app.work import collect_tokens

__all__ = ["ProduceResponse", "router"]

router = APIRouter(prefix="/lab/produce", tags=["produce"])


class ProduceResponse(BaseModel):
    items: list[str]
    elapsed_ms: float


def _respond(tokens: list[str], started: float) -> ProduceResponse:
    return ProduceResponse(items=tokens, elapsed_ms=(time.perf_counter() - started) * 1000)


# ✅ The baseline: an async def route simply awaits the producer on the loop.
@router.get("/async", **catalogued("produce.async"))
async def produce_async(
    items: Items = ITEMS.default,
    item_delay_ms: ItemDelayMs = ITEM_DELAY_MS.default,
    source: Source = "async",
) -> ProduceResponse:
    started = time.perf_counter()
    tokens = await collect_tokens(items, item_delay_ms, source=source)
    return _respond(tokens, started)


# ✅ syncify: the def route waits in its worker thread while the producer runs on the app's loop.
@router.get("/syncify", **catalogued("produce.syncify"))
def produce_syncify(
    items: Items = ITEMS.default,
    item_delay_ms: ItemDelayMs = ITEM_DELAY_MS.default,
    source: Source = "async",
) -> ProduceResponse:
    started = time.perf_counter()
    tokens = syncify(collect_tokens)(items, item_delay_ms, source=source)
    return _respond(tokens, started)


# 🚨 Works, but builds a new event loop per request, which shares nothing with the app's loop.
@router.get("/asyncio-run", **catalogued("produce.asyncio-run"))
def produce_asyncio_run(
    items: Items = ITEMS.default,
    item_delay_ms: ItemDelayMs = ITEM_DELAY_MS.default,
    source: Source = "async",
) -> ProduceResponse:
    started = time.perf_counter()
    tokens = asyncio.run(collect_tokens(items, item_delay_ms, source=source))
    return _respond(tokens, started)
