"""The story endpoints stream FastAPI's "Stream Data" example, line by line, as the docs do."""

from fastapi.testclient import TestClient

from app.api.routes.story import story_lines
from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries

STORY = over_entries(entries("story"))

# The docs' story, as known from the docs rather than from the lab's copy: seven
# lines (the example yields them without their line breaks), 556 bytes of UTF-8.
FIRST_LINE = b"Rick: (stumbles in drunkenly, and turns on the lights) Morty! You gotta come on."
LAST_LINE = b"Rick: We gotta go, gotta get outta here, come on. Got a surprise for you Morty."
LINES = 7
BODY_BYTES = 556


def _chunks(client: TestClient, path: str) -> list[bytes]:
    with client.stream("GET", path) as response:
        assert response.status_code == 200
        return list(response.iter_raw())


@STORY
def test_stream_story(client: TestClient, entry: CatalogueEntry) -> None:
    response = client.get(entry.path)
    assert response.status_code == 200
    body = response.content
    assert body.startswith(FIRST_LINE)
    assert body.endswith(LAST_LINE)
    assert b"\n" not in body
    assert len(body) == BODY_BYTES
    assert body.decode("utf-8").count("Rick: ") == 4
    # Like the docs' example: a plain StreamingResponse sets no media type.
    assert "content-type" not in response.headers
    assert "content-length" not in response.headers


@STORY
def test_stream_story_arrives_line_by_line(client: TestClient, entry: CatalogueEntry) -> None:
    chunks = _chunks(client, entry.path)
    assert len(chunks) == LINES
    assert chunks[0].startswith(FIRST_LINE)
    assert chunks[-1] == LAST_LINE
    # One line of dialogue per chunk: each starts with who speaks.
    assert all(chunk.startswith((b"Rick: ", b"Morty: ")) for chunk in chunks)
    assert sum(len(chunk) for chunk in chunks) == BODY_BYTES
    # The chunks are the lines the endpoints yield (the empty first and last lines of
    # the docs' triple-quoted string send nothing).
    assert chunks == [line.encode("utf-8") for line in story_lines() if line]


@STORY
def test_every_variant_streams_the_same_body(client: TestClient, entry: CatalogueEntry) -> None:
    # str and bytes, async and def, annotated or not: the same bytes on every request.
    reference = client.get(entries("story")[0].path).content
    bodies = {client.get(entry.path).content for _ in range(3)}
    assert bodies == {reference}
