import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from app.api.routes import lab
from app.api.routes.lab import OpenCounts
from app.catalogue import by_id
from app.main import create_app
from app.samples import DEFAULT_SIZES, sample_bytes, sample_name
from looplab.monitor import instrument
from looplab.protocol import CatalogueEntry

from .conftest import app_on

pytestmark = pytest.mark.anyio


def _operations(app: FastAPI) -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation of the app's OpenAPI document, by method and path."""
    return {
        (method.upper(), path): operation
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    }


async def _served(client: httpx.AsyncClient) -> list[CatalogueEntry]:
    response = await client.get("/lab")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    # What a reader of /lab parses: a list of entries, nothing the model refuses.
    return TypeAdapter(list[CatalogueEntry]).validate_json(response.content)


async def test_lab_serves_entries_with_unique_ids(lab_client: httpx.AsyncClient) -> None:
    served = await _served(lab_client)
    assert served
    ids = [e.id for e in served]
    assert len(set(ids)) == len(ids), ids


async def test_each_served_entry_is_a_route_that_takes_its_workload(
    lab_app: FastAPI, lab_client: httpx.AsyncClient
) -> None:
    operations = _operations(lab_app)
    for entry in await _served(lab_client):
        operation = operations.get((entry.method, entry.path))
        assert operation is not None, f"{entry.id}: no {entry.method} {entry.path} in OpenAPI"
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert entry.workload.keys() <= query, (entry.id, query)


async def test_lab_serves_every_catalogued_route_and_nothing_else(
    lab_app: FastAPI, lab_client: httpx.AsyncClient
) -> None:
    # The catalogued routes, found in OpenAPI: every operation but the instrument's
    # and the /lab router's own. Each is served once, with the summary its route shows.
    bare = FastAPI()
    instrument(bare)
    bare.include_router(lab.router)
    operations = _operations(lab_app)
    catalogued = {
        key: op["summary"] for key, op in operations.items() if key not in _operations(bare)
    }
    served = {(e.method, e.path): e.summary for e in await _served(lab_client)}
    assert served == catalogued


async def test_lab_uses_the_protocols_wire_names(lab_client: httpx.AsyncClient) -> None:
    served = {entry["id"]: entry for entry in (await lab_client.get("/lab")).json()}
    read = served["read.inline"]
    assert read["workload"] == {"file": "sample-1MiB.bin", "delay_ms": 300}
    assert read["cost_ms"] == 300
    assert read["params"]["delay_ms"] == {"default": 0, "min": 0, "max": 10_000, "choices": None}
    assert read["params"]["cold"]["choices"] == [False, True]
    assert {"load", "load_cost_ms"}.isdisjoint(read)
    assert served["story.stream"]["workload"] == {}
    assert served["story.stream"]["cost_ms"] == 0
    assert served["stream.fileresponse"]["params"].keys() == {"file"}
    assert set(read) == set(by_id("read.inline").model_dump())


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
    counts = OpenCounts.model_validate_json((await lab_client.get("/lab/open")).content)
    assert counts.files == 0
    assert counts.producers == 0
    assert counts.descriptors is not None and counts.descriptors > 0


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
