"""The cost budget: a lab request may not ask for more waiting or work than it allows."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.api.params import QUERY_TYPES
from app.catalogue import NumberParam, family_of
from app.core.config import COST_BUDGET_ENV, Settings, get_settings
from app.main import create_app
from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries

BUDGET_MS = 1_000
COSTED = entries(where=lambda e: any(name in QUERY_TYPES for name in e.params))


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(COST_BUDGET_ENV, str(BUDGET_MS))
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            yield client
    finally:
        get_settings.cache_clear()


def _most(entry: CatalogueEntry) -> dict[str, int | str | bool]:
    """Every numeric knob of ``entry`` at its maximum: the dearest query there is."""
    query = dict(entry.workload)
    for name in entry.params:
        param = family_of(entry).params[name]
        if isinstance(param, NumberParam):
            query[name] = param.max
    return query


def test_the_default_budget_is_30_s() -> None:
    assert Settings().cost_budget_ms == 30_000


@over_entries(COSTED)
def test_over_the_budget_is_a_422_that_names_it(
    small_budget: TestClient, entry: CatalogueEntry
) -> None:
    query = _most(entry)
    # The query is dear by the family's own formula (a 64 KiB chunk of a 1 MiB file
    # times a 10 s delay, 100,000 tokens...), and nothing of it runs.
    assert family_of(entry).cost(query, 1 << 20) > BUDGET_MS
    response = small_budget.get(entry.path, params=query)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["type"] == "cost_budget"
    assert f"{BUDGET_MS:,} ms" in error["msg"] and COST_BUDGET_ENV in error["msg"]


@over_entries(COSTED)
def test_within_the_budget_runs(small_budget: TestClient, entry: CatalogueEntry) -> None:
    # The workload at a tenth of its delays fits in a 1 s budget.
    query = {
        name: value // 10 if name in ("delay_ms", "item_delay_ms", "cpu_ms") else value
        for name, value in entry.workload.items()
    }
    response = small_budget.get(entry.path, params=query)
    assert response.status_code == 200, response.text


def test_a_streams_cost_counts_the_real_files_chunks(small_budget: TestClient) -> None:
    # 1 MiB in 64 KiB chunks is 16 slowed reads: 16 x 70 ms is over 1 s, 16 x 60 ms is not.
    path = "/lab/stream/threadpool"
    query = {"file": "sample-1MiB.bin", "chunk_size": 64 * 1024}
    assert small_budget.get(path, params={**query, "delay_ms": 70}).status_code == 422
    assert small_budget.get(path, params={**query, "delay_ms": 1}).status_code == 200
    over = small_budget.get(path, params={**query, "delay_ms": 70}).json()["detail"][0]["msg"]
    assert "1,120 ms" in over
