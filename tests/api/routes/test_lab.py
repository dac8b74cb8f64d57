import hashlib
import os
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from app.catalogue import CATALOGUE, entry
from app.main import create_app
from app.samples import DEFAULT_SIZES, sample_bytes, sample_name
from looplab.protocol import CatalogueEntry

from .conftest import app_on

pytestmark = pytest.mark.anyio


async def test_lab_serves_the_catalogue(lab_client: httpx.AsyncClient) -> None:
    response = await lab_client.get("/lab")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    # What a reader of /lab parses: every entry, in order, nothing lost on the wire.
    served = TypeAdapter(list[CatalogueEntry]).validate_json(response.content)
    assert served == list(CATALOGUE)


async def test_lab_uses_the_protocols_wire_names(lab_client: httpx.AsyncClient) -> None:
    by_id = {found["id"]: found for found in (await lab_client.get("/lab")).json()}
    read = by_id["read.inline"]
    assert read["workload"] == {"file": "sample-1MiB.bin", "delay_ms": 300}
    assert read["cost_ms"] == 300
    assert read["params"]["delay_ms"] == {"default": 0, "min": 0, "max": 10_000, "choices": None}
    assert read["params"]["cold"]["choices"] == [False, True]
    assert {"load", "load_cost_ms"}.isdisjoint(read)
    assert by_id["story.stream"]["workload"] == {}
    assert by_id["story.stream"]["cost_ms"] == 0
    assert by_id["stream.fileresponse"]["params"].keys() == {"file"}
    assert set(read) == set(entry("read.inline").model_dump())


async def test_lab_files_lists_the_samples_with_checksums(lab_client: httpx.AsyncClient) -> None:
    response = await lab_client.get("/lab/files")
    assert response.status_code == 200
    assert response.json() == [
        {
            "name": sample_name(size),
            "size": size,
            "sha256": hashlib.sha256(sample_bytes(size)).hexdigest(),
        }
        for size in DEFAULT_SIZES
    ]


async def test_lab_files_skips_dot_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / ".sample-1MiB.bin.x.tmp").write_bytes(b"half")
    (tmp_path / "subdir").mkdir()
    (tmp_path / "notes.txt").write_bytes(b"hello")
    os.symlink(tmp_path / "notes.txt", tmp_path / "link.txt")
    transport = httpx.ASGITransport(app=app_on(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        response = await client.get("/lab/files")
    assert [f["name"] for f in response.json()] == ["notes.txt"]


async def test_lab_files_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=app_on(tmp_path / "missing"))
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        response = await client.get("/lab/files")
    assert response.status_code == 200
    assert response.json() == []


async def test_lab_open_counts_nothing_at_rest(lab_client: httpx.AsyncClient) -> None:
    body = (await lab_client.get("/lab/open")).json()
    assert body["files"] == 0
    assert body["producers"] == 0
    assert body["descriptors"] > 0


def test_startup_creates_the_data_directory_with_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.config import get_settings

    data_dir = tmp_path / "fresh" / "data"
    monkeypatch.setenv("LOOPLAB_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            names = [f["name"] for f in client.get("/lab/files").json()]
    finally:
        get_settings.cache_clear()
    assert names == [sample_name(size) for size in DEFAULT_SIZES]
    assert (data_dir / "sample-64MiB.bin").stat().st_size == 64 * 1024 * 1024
