"""FastAPI's "Stream Data" story endpoints: a ``yield`` path operation streams text.

Each variant yields the story one line at a time. They differ only in how the
generator is declared: ``async def`` runs on the event loop, ``def`` is iterated
in the thread pool (one thread hop per line); the return annotation is for
editors only, FastAPI never uses it to encode a raw stream; and ``str`` chunks
are encoded as UTF-8 by Starlette, so ``str`` and ``bytes`` give the same body.

No variant sets a media type, so like the docs' example these responses carry
no ``content-type`` header: with a plain ``StreamingResponse`` you produce the
bytes and their meaning yourself (see the image endpoints for a subclass that
sets one).
"""

from collections.abc import AsyncIterable, Iterable

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from app.api.catalogued import catalogued

router = APIRouter(prefix="/story", tags=["story"])

STORY = """
Rick: (stumbles in drunkenly, and turns on the lights) Morty! You gotta come on. You got--... you gotta come with me.
Morty: (rubs his eyes) What, Rick? What's going on?
Rick: I got a surprise for you, Morty.
Morty: It's the middle of the night. What are you talking about?
Rick: (spills alcohol on Morty's bed) Come on, I got a surprise for you. (drags Morty by the ankle) Come on, hurry up. (pulls Morty out of his bed and into the hall)
Morty: Ow! Ow! You're tugging me too hard!
Rick: We gotta go, gotta get outta here, come on. Got a surprise for you Morty.
"""  # noqa: E501 (the docs' text, verbatim: the endpoints must stream exactly it)


def story_lines() -> list[str]:
    """The story split into lines, without line breaks, as the docs' example yields them."""
    return STORY.splitlines()


# ✅ An async generator: each line is yielded on the event loop, no thread hop.
@router.get("/stream", response_class=StreamingResponse, **catalogued("story.stream"))
async def stream_story() -> AsyncIterable[str]:
    for line in story_lines():
        yield line


# ✅ A def generator: FastAPI iterates it in the thread pool, one hop per line.
@router.get(
    "/stream-no-async", response_class=StreamingResponse, **catalogued("story.stream-no-async")
)
def stream_story_no_async() -> Iterable[str]:
    yield from story_lines()


# The annotation is optional: nothing is validated or serialized on a raw stream.
@router.get(
    "/stream-no-annotation",
    response_class=StreamingResponse,
    **catalogued("story.stream-no-annotation"),
)
async def stream_story_no_annotation():  # type: ignore[no-untyped-def]  # no annotation is the point
    for line in story_lines():
        yield line


@router.get(
    "/stream-no-async-no-annotation",
    response_class=StreamingResponse,
    **catalogued("story.stream-no-async-no-annotation"),
)
def stream_story_no_async_no_annotation():  # type: ignore[no-untyped-def]  # no annotation is the point
    yield from story_lines()


@router.get("/stream-bytes", response_class=StreamingResponse, **catalogued("story.stream-bytes"))
async def stream_story_bytes() -> AsyncIterable[bytes]:
    for line in story_lines():
        yield line.encode("utf-8")


@router.get(
    "/stream-no-async-bytes",
    response_class=StreamingResponse,
    **catalogued("story.stream-no-async-bytes"),
)
def stream_story_no_async_bytes() -> Iterable[bytes]:
    for line in story_lines():
        yield line.encode("utf-8")


@router.get(
    "/stream-no-annotation-bytes",
    response_class=StreamingResponse,
    **catalogued("story.stream-no-annotation-bytes"),
)
async def stream_story_no_annotation_bytes():  # type: ignore[no-untyped-def]  # no annotation is the point
    for line in story_lines():
        yield line.encode("utf-8")


@router.get(
    "/stream-no-async-no-annotation-bytes",
    response_class=StreamingResponse,
    **catalogued("story.stream-no-async-no-annotation-bytes"),
)
def stream_story_no_async_no_annotation_bytes():  # type: ignore[no-untyped-def]  # no annotation is the point
    for line in story_lines():
        yield line.encode("utf-8")
