"""FastAPI's "Stream Data" image endpoints: stream a PNG with a response subclass.

``PNGStreamingResponse`` sets ``media_type``, so unlike the story endpoints these
responses say what they carry. Each request opens the image itself, inside the
generator, in a ``with`` block: the file is closed when streaming ends, and no
request can consume a shared file object that the next one would find empty.

Iterating a binary file object yields pieces that end at newline bytes; the
PNG header alone holds two, so even this small image arrives in several chunks.
"""

from collections.abc import AsyncIterable, Iterable
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from app.api.catalogued import catalogued

router = APIRouter(prefix="/image", tags=["image"])

IMAGE_PATH = Path(__file__).resolve().parents[2] / "assets" / "looplab.png"


class PNGStreamingResponse(StreamingResponse):
    media_type = "image/png"


# The image is a few KiB, so its blocking reads are cheaper than a thread hop:
# fine on the event loop. The lab's stream family shows when they are not.
@router.get("/stream", response_class=PNGStreamingResponse, **catalogued("image.stream"))
async def stream_image() -> AsyncIterable[bytes]:
    with IMAGE_PATH.open("rb") as image:
        for chunk in image:
            yield chunk


# ✅ A def generator: opening and each read run in the thread pool.
@router.get(
    "/stream-no-async", response_class=PNGStreamingResponse, **catalogued("image.stream-no-async")
)
def stream_image_no_async() -> Iterable[bytes]:
    with IMAGE_PATH.open("rb") as image:
        for chunk in image:
            yield chunk


@router.get(
    "/stream-no-async-yield-from",
    response_class=PNGStreamingResponse,
    **catalogued("image.stream-no-async-yield-from"),
)
def stream_image_no_async_yield_from() -> Iterable[bytes]:
    with IMAGE_PATH.open("rb") as image:
        yield from image


@router.get(
    "/stream-no-annotation",
    response_class=PNGStreamingResponse,
    **catalogued("image.stream-no-annotation"),
)
async def stream_image_no_annotation():  # type: ignore[no-untyped-def]  # no annotation is the point
    with IMAGE_PATH.open("rb") as image:
        for chunk in image:
            yield chunk


@router.get(
    "/stream-no-async-no-annotation",
    response_class=PNGStreamingResponse,
    **catalogued("image.stream-no-async-no-annotation"),
)
def stream_image_no_async_no_annotation():  # type: ignore[no-untyped-def]  # no annotation is the point
    with IMAGE_PATH.open("rb") as image:
        for chunk in image:
            yield chunk
