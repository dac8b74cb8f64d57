import threading

import httpx
import pytest
from asyncer import syncify

from app.work import collect_tokens
from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries

pytestmark = pytest.mark.anyio

PRODUCE = over_entries(entries("produce"))


@PRODUCE
@pytest.mark.parametrize("source", ["async", "thread"])
async def test_produce_collects_every_token(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry, source: str
) -> None:
    params = {"items": 5, "item_delay_ms": 20, "source": source}
    response = await lab_client.get(entry.path, params=params)
    assert response.status_code == 200
    body = response.json()
    assert body["items"] == [f"token-{i} " for i in range(5)]
    assert body["elapsed_ms"] >= 5 * 20


@PRODUCE
async def test_produce_defaults_to_ten_tokens(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    response = await lab_client.get(entry.path, params={"item_delay_ms": 0})
    assert len(response.json()["items"]) == entry.params["items"].default == 10


async def test_syncify_on_the_event_loop_is_a_clear_error() -> None:
    # Called where it cannot work, syncify raises at once instead of hanging.
    with pytest.raises(RuntimeError, match="worker thread"):
        syncify(collect_tokens)(2, 0)


def test_syncify_in_a_foreign_thread_is_a_clear_error() -> None:
    errors: list[BaseException] = []

    def call() -> None:
        try:
            syncify(collect_tokens)(2, 0)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
