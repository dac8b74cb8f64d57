import httpx
import pytest

pytestmark = pytest.mark.anyio

CPU_PATHS = ["/lab/cpu/inline", "/lab/cpu/asyncify", "/lab/cpu/process"]


@pytest.mark.parametrize("path", CPU_PATHS)
async def test_cpu_burns_the_thread_time_asked(lab_client: httpx.AsyncClient, path: str) -> None:
    response = await lab_client.get(path, params={"cpu_ms": 50})
    assert response.status_code == 200
    body = response.json()
    assert 50 <= body["cpu_ms"] < 50 + 40
    assert body["elapsed_ms"] >= 50
    assert body["rounds"] >= 1
    assert len(body["digest"]) == 16


@pytest.mark.parametrize("path", CPU_PATHS)
async def test_cpu_zero_is_quick(lab_client: httpx.AsyncClient, path: str) -> None:
    response = await lab_client.get(path, params={"cpu_ms": 0})
    assert response.json()["rounds"] == 0
