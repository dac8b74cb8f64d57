import hashlib
from pathlib import Path

import httpx
import pytest

from app.samples import sample_bytes, sample_name
from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries
from tests.utils.files import cold_read_reports

pytestmark = pytest.mark.anyio

READ = over_entries(entries("read"))


@READ
@pytest.mark.parametrize("size", [4 * 1024, 1024 * 1024])
async def test_read_returns_the_file_digest(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry, size: int
) -> None:
    response = await lab_client.get(entry.path, params={"file": sample_name(size)})
    assert response.status_code == 200
    body = response.json()
    assert body["file"] == sample_name(size)
    assert body["bytes"] == size
    assert body["sha256"] == hashlib.sha256(sample_bytes(size)).hexdigest()
    assert body["evicted"] is False
    assert body["simulated_delay_ms"] == 0
    assert body["elapsed_ms"] >= 0


@READ
async def test_read_reads_the_default_sample(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    response = await lab_client.get(entry.path)
    assert response.status_code == 200
    assert response.json()["file"] == entry.params["file"].default == "sample-1MiB.bin"


@READ
async def test_read_pays_the_simulated_delay(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    response = await lab_client.get(entry.path, params={"file": "sample-4KiB.bin", "delay_ms": 150})
    body = response.json()
    assert body["simulated_delay_ms"] == 150
    assert body["elapsed_ms"] >= 150


@READ
async def test_read_cold_reports_whether_the_cache_was_evicted(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry, data_dir: Path
) -> None:
    expected = cold_read_reports(data_dir / "sample-1MiB.bin")
    response = await lab_client.get(entry.path, params={"file": "sample-1MiB.bin", "cold": True})
    assert response.status_code == 200
    body = response.json()
    # True on a disk; on tmpfs, nothing to evict (False, or null if it cannot tell).
    assert any(body["evicted"] is value for value in expected), (body["evicted"], expected)
    assert body["sha256"] == hashlib.sha256(sample_bytes(1024 * 1024)).hexdigest()
