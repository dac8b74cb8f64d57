import httpx
import pytest

from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries

pytestmark = pytest.mark.anyio

CPU = over_entries(entries("cpu"))


@CPU
async def test_cpu_burns_the_thread_time_asked(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    response = await lab_client.get(entry.path, params={"cpu_ms": 50})
    assert response.status_code == 200
    body = response.json()
    assert 50 <= body["cpu_ms"] < 50 + 40
    assert body["elapsed_ms"] >= 50
    assert body["rounds"] >= 1
    assert len(body["digest"]) == 16


@CPU
async def test_cpu_zero_is_quick(lab_client: httpx.AsyncClient, entry: CatalogueEntry) -> None:
    # Warmed up first: the process pool's first call starts a worker interpreter.
    assert (await lab_client.get(entry.path, params={"cpu_ms": 0})).status_code == 200
    response = await lab_client.get(entry.path, params={"cpu_ms": 0})
    assert response.status_code == 200
    body = response.json()
    assert body["rounds"] == 0
    assert body["cpu_ms"] < 10
    # Generous: no work, but a thread or process hop on a busy 2-core machine.
    assert body["elapsed_ms"] < 1000
    assert response.elapsed.total_seconds() < 1
