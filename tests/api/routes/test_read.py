import hashlib
from pathlib import Path

import httpx
import pytest

from looplab.samples import sample_bytes, sample_name

pytestmark = pytest.mark.anyio

READ_PATHS = ["/lab/read/inline", "/lab/read/threadpool", "/lab/read/asyncify", "/lab/read/anyio"]


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize("size", [4 * 1024, 1024 * 1024])
async def test_read_returns_the_file_digest(
    lab_client: httpx.AsyncClient, path: str, size: int
) -> None:
    response = await lab_client.get(path, params={"file": sample_name(size)})
    assert response.status_code == 200
    body = response.json()
    assert body["file"] == sample_name(size)
    assert body["bytes"] == size
    assert body["sha256"] == hashlib.sha256(sample_bytes(size)).hexdigest()
    assert body["evicted"] is False
    assert body["simulated_delay_ms"] == 0
    assert body["elapsed_ms"] >= 0


@pytest.mark.parametrize("path", READ_PATHS)
async def test_read_reads_the_default_sample(lab_client: httpx.AsyncClient, path: str) -> None:
    response = await lab_client.get(path)
    assert response.status_code == 200
    assert response.json()["file"] == "sample-1MiB.bin"


@pytest.mark.parametrize("path", READ_PATHS)
async def test_read_pays_the_simulated_delay(lab_client: httpx.AsyncClient, path: str) -> None:
    response = await lab_client.get(path, params={"file": "sample-4KiB.bin", "delay_ms": 150})
    body = response.json()
    assert body["simulated_delay_ms"] == 150
    assert body["elapsed_ms"] >= 150


@pytest.mark.parametrize("path", READ_PATHS)
async def test_read_cold_reports_whether_the_cache_was_evicted(
    lab_client: httpx.AsyncClient, path: str, data_dir: Path
) -> None:
    response = await lab_client.get(path, params={"file": "sample-1MiB.bin", "cold": True})
    assert response.status_code == 200
    body = response.json()
    # True on a disk, False on tmpfs (nothing to evict), null if it cannot tell.
    assert body["evicted"] in (True, False, None)
    assert body["sha256"] == hashlib.sha256(sample_bytes(1024 * 1024)).hexdigest()
