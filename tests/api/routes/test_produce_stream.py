import httpx
import pytest

from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries

pytestmark = pytest.mark.anyio

PRODUCE_STREAM = over_entries(entries("produce-stream"))


@PRODUCE_STREAM
@pytest.mark.parametrize("source", ["async", "thread"])
async def test_produce_stream_sends_tokens_as_text(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry, source: str
) -> None:
    params = {"items": 6, "item_delay_ms": 10, "source": source}
    async with lab_client.stream("GET", entry.path, params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        chunks = [chunk async for chunk in response.aiter_text()]
    assert "".join(chunks) == "".join(f"token-{i} " for i in range(6))


@PRODUCE_STREAM
async def test_produce_stream_takes_item_delays(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    response = await lab_client.get(entry.path, params={"items": 5, "item_delay_ms": 60})
    assert response.text.count("token-") == 5
    assert response.elapsed.total_seconds() >= 0.3
