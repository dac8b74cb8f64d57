import io

from fastapi.testclient import TestClient
from PIL import Image

from app.api.routes.image import IMAGE_PATH
from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries

IMAGE = over_entries(entries("image"))


def test_image_is_a_valid_png() -> None:
    with Image.open(IMAGE_PATH) as image:
        image.verify()
    with Image.open(IMAGE_PATH) as image:
        assert image.format == "PNG"
        assert image.size == (64, 64)


@IMAGE
def test_stream_image(client: TestClient, entry: CatalogueEntry) -> None:
    response = client.get(entry.path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == IMAGE_PATH.read_bytes()
    with Image.open(io.BytesIO(response.content)) as image:
        image.load()
        assert image.size == (64, 64)


@IMAGE
def test_stream_image_whole_on_every_request(client: TestClient, entry: CatalogueEntry) -> None:
    # A module-level BytesIO would be drained by the first request.
    expected = IMAGE_PATH.read_bytes()
    assert [client.get(entry.path).content for _ in range(3)] == [expected] * 3


@IMAGE
def test_stream_image_arrives_in_chunks(client: TestClient, entry: CatalogueEntry) -> None:
    with client.stream("GET", entry.path) as response:
        chunks = list(response.iter_raw())
    # Iterating a binary file yields pieces ending at newline bytes.
    assert len(chunks) > 5
    assert all(chunk.endswith(b"\n") for chunk in chunks[:-1])
    assert b"".join(chunks) == IMAGE_PATH.read_bytes()
