"""The ``produce-stream`` family: stream an async producer's tokens, in two approaches.

The work is ``app.work.produce_tokens``; each response is ``text/plain`` and
carries one token after another as the producer yields them. On a client
disconnect both approaches close the producer promptly.
"""

from collections.abc import Generator

from asyncer import syncify
from fastapi import APIRouter

from app.api.catalogued import catalogued
from app.api.params import ItemDelayMs, Items, Source
from app.catalogue import ITEM_DELAY_MS, ITEMS
from app.streaming import ClosingStreamingResponse, iterate_in_threadpool_closing
from app.work import Done, next_item, produce_tokens

__all__ = ["TextStreamResponse", "router"]

router = APIRouter(prefix="/lab/produce-stream", tags=["produce-stream"])


class TextStreamResponse(ClosingStreamingResponse):
    media_type = "text/plain"  # Starlette adds "; charset=utf-8"


# ✅ An async generator relays each token on the loop, the moment it arrives.
@router.get("/async", response_class=TextStreamResponse, **catalogued("produce-stream.async"))
async def produce_stream_async(
    items: Items = ITEMS.default,
    item_delay_ms: ItemDelayMs = ITEM_DELAY_MS.default,
    source: Source = "async",
) -> TextStreamResponse:
    return TextStreamResponse(produce_tokens(items, item_delay_ms, source=source))


# ✅ A def generator pulls each token through the app's loop with syncify, in the thread pool.
@router.get("/syncify", response_class=TextStreamResponse, **catalogued("produce-stream.syncify"))
def produce_stream_syncify(
    items: Items = ITEMS.default,
    item_delay_ms: ItemDelayMs = ITEM_DELAY_MS.default,
    source: Source = "async",
) -> TextStreamResponse:

    def tokens() -> Generator[str]:
        producer = produce_tokens(items, item_delay_ms, source=source)
        try:
            while not isinstance(token := syncify(next_item)(producer), Done):
                yield token
        finally:
            # Closed early (a disconnect), the producer must stop too.
            syncify(producer.aclose)()

    return TextStreamResponse(iterate_in_threadpool_closing(tokens()))
