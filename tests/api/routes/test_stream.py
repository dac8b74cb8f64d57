from pathlib import Path

import httpx
import pytest

from looplab.samples import sample_bytes

pytestmark = pytest.mark.anyio

STREAM_PATHS = ["/lab/stream/inline", "/lab/stream/threadpool", "/lab/stream/asyncify"]
ALL_STREAM_PATHS = [*STREAM_PATHS, "/lab/stream/fileresponse"]


@pytest.mark.parametrize("path", ALL_STREAM_PATHS)
async def test_stream_sends_the_file_as_octets(lab_client: httpx.AsyncClient, path: str) -> None:
    response = await lab_client.get(path, params={"file": "sample-1MiB.bin"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(1024 * 1024)
    assert response.content == sample_bytes(1024 * 1024)


@pytest.mark.parametrize("path", STREAM_PATHS)
@pytest.mark.parametrize("chunk_size", [1024, 3000, 64 * 1024, 8 * 1024 * 1024])
async def test_stream_chunks_add_up_to_the_file(
    lab_client: httpx.AsyncClient, path: str, chunk_size: int
) -> None:
    params = {"file": "sample-1MiB.bin", "chunk_size": chunk_size}
    async with lab_client.stream("GET", path, params=params) as response:
        chunks = [chunk async for chunk in response.aiter_raw()]
    assert b"".join(chunks) == sample_bytes(1024 * 1024)


@pytest.mark.parametrize("path", STREAM_PATHS)
async def test_stream_pays_the_delay_per_chunk(lab_client: httpx.AsyncClient, path: str) -> None:
    # 4 chunks of 1 KiB, 100 ms each: no extra read call to find the end.
    params = {"file": "sample-4KiB.bin", "chunk_size": 1024, "delay_ms": 100}
    response = await lab_client.get(path, params=params)
    assert response.content == sample_bytes(4096)
    assert 0.4 <= response.elapsed.total_seconds() < 0.5 + 1.5


@pytest.mark.parametrize("path", STREAM_PATHS)
async def test_stream_cold_still_sends_the_file(
    lab_client: httpx.AsyncClient, path: str, data_dir: Path
) -> None:
    response = await lab_client.get(path, params={"file": "sample-1MiB.bin", "cold": True})
    assert response.content == sample_bytes(1024 * 1024)


async def test_fileresponse_has_no_slowness_knobs(lab_client: httpx.AsyncClient) -> None:
    response = await lab_client.get("/openapi.json")
    params = response.json()["paths"]["/lab/stream/fileresponse"]["get"]["parameters"]
    assert [p["name"] for p in params] == ["file"]
