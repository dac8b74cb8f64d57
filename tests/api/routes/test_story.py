import pytest
from fastapi.testclient import TestClient

from app.api.routes.story import STORY

STORY_PATHS = [
    "/story/stream",
    "/story/stream-no-async",
    "/story/stream-no-annotation",
    "/story/stream-no-async-no-annotation",
    "/story/stream-bytes",
    "/story/stream-no-async-bytes",
    "/story/stream-no-annotation-bytes",
    "/story/stream-no-async-no-annotation-bytes",
]

# The docs' example yields the lines without their line breaks.
EXPECTED_BODY = "".join(STORY.splitlines()).encode("utf-8")


def test_expected_body_is_the_docs_story() -> None:
    assert EXPECTED_BODY.startswith(b"Rick: (stumbles in drunkenly, and turns on the lights)")
    assert EXPECTED_BODY.endswith(b"Got a surprise for you Morty.")
    assert b"\n" not in EXPECTED_BODY
    assert len(EXPECTED_BODY) == 556


@pytest.mark.parametrize("path", STORY_PATHS)
def test_stream_story(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.content == EXPECTED_BODY
    # Like the docs' example: a plain StreamingResponse sets no media type.
    assert "content-type" not in response.headers
    assert "content-length" not in response.headers


@pytest.mark.parametrize("path", STORY_PATHS)
def test_stream_story_repeats(client: TestClient, path: str) -> None:
    bodies = {client.get(path).content for _ in range(3)}
    assert bodies == {EXPECTED_BODY}


@pytest.mark.parametrize("path", STORY_PATHS)
def test_stream_story_arrives_line_by_line(client: TestClient, path: str) -> None:
    with client.stream("GET", path) as response:
        chunks = list(response.iter_raw())
    non_empty_lines = [line.encode() for line in STORY.splitlines() if line]
    assert chunks == non_empty_lines
