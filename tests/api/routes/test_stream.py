import httpx
import pytest

from app.catalogue import by_id
from app.samples import sample_bytes
from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries

pytestmark = pytest.mark.anyio

STREAMS = entries("stream")
# The approaches that read in chunks of their own, each read slowed by delay_ms.
CHUNKED = [e for e in STREAMS if {"chunk_size", "delay_ms"} <= e.params.keys()]
COLD = [e for e in STREAMS if "cold" in e.params]


@over_entries(STREAMS)
async def test_stream_sends_the_file_as_octets(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    response = await lab_client.get(entry.path, params={"file": "sample-1MiB.bin"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(1024 * 1024)
    assert response.content == sample_bytes(1024 * 1024)


@over_entries(CHUNKED)
@pytest.mark.parametrize("chunk_size", [1024, 3000, 64 * 1024, 8 * 1024 * 1024])
async def test_stream_chunks_add_up_to_the_file(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry, chunk_size: int
) -> None:
    params = {"file": "sample-1MiB.bin", "chunk_size": chunk_size}
    async with lab_client.stream("GET", entry.path, params=params) as response:
        chunks = [chunk async for chunk in response.aiter_raw()]
    assert b"".join(chunks) == sample_bytes(1024 * 1024)


@over_entries(CHUNKED)
async def test_stream_pays_the_delay_per_chunk(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    # 4 chunks of 1 KiB, 100 ms each: no extra read call to find the end.
    params = {"file": "sample-4KiB.bin", "chunk_size": 1024, "delay_ms": 100}
    response = await lab_client.get(entry.path, params=params)
    assert response.content == sample_bytes(4096)
    assert 0.4 <= response.elapsed.total_seconds() < 0.5 + 1.5


@over_entries(COLD)
async def test_stream_cold_still_sends_the_file(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    response = await lab_client.get(entry.path, params={"file": "sample-1MiB.bin", "cold": True})
    assert response.status_code == 200
    assert response.content == sample_bytes(1024 * 1024)


async def test_fileresponse_has_no_slowness_knobs(lab_client: httpx.AsyncClient) -> None:
    # What the catalogue's lesson promises: FileResponse takes the file and nothing else.
    response = await lab_client.get("/openapi.json")
    params = response.json()["paths"][by_id("stream.fileresponse").path]["get"]["parameters"]
    assert [p["name"] for p in params] == ["file"]
