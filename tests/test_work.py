import hashlib
import threading
import time
from pathlib import Path

import anyio
import pytest

from app.samples import ensure_sample, sample_bytes
from app.work import (
    DONE,
    SlowReader,
    burn_cpu,
    collect_tokens,
    next_item,
    open_counts,
    open_sample,
    produce_tokens,
    read_chunks,
    read_sample,
)
from tests.utils.files import cold_read_reports


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_sample(tmp_path_factory.mktemp("work"), 10_000)


def test_read_sample_digests_the_whole_file(sample: Path) -> None:
    result = read_sample(sample)
    assert result.bytes == 10_000
    assert result.sha256 == hashlib.sha256(sample_bytes(10_000)).hexdigest()
    assert result.evicted is False


def test_the_delay_is_paid_inside_each_read_call(sample: Path) -> None:
    with open_sample(sample, delay_ms=100) as reader:
        started = time.perf_counter()
        reader.read(10)
        assert time.perf_counter() - started >= 0.1
    # One read call for the whole file: one delay.
    started = time.perf_counter()
    read_sample(sample, delay_ms=100)
    assert 0.1 <= time.perf_counter() - started < 0.2 + 1


def test_read_chunks_makes_one_read_call_per_chunk(sample: Path) -> None:
    calls = 0
    original = SlowReader.read

    def counting(self: SlowReader, size: int = -1) -> bytes:
        nonlocal calls
        calls += 1
        return original(self, size)

    SlowReader.read = counting  # type: ignore[method-assign]
    try:
        chunks = list(read_chunks(sample, chunk_size=4096))
    finally:
        SlowReader.read = original  # type: ignore[method-assign]
    assert [len(c) for c in chunks] == [4096, 4096, 1808]
    assert calls == 3  # no extra call to find the end
    assert b"".join(chunks) == sample_bytes(10_000)


def test_open_files_are_counted_until_closed(sample: Path) -> None:
    before = open_counts()["files"]
    chunks = read_chunks(sample, chunk_size=1024)
    next(chunks)
    assert open_counts()["files"] == before + 1
    chunks.close()
    assert open_counts()["files"] == before
    reader = open_sample(sample)
    reader.close()
    reader.close()
    assert reader.closed
    assert open_counts()["files"] == before


def test_cold_reports_the_eviction(sample: Path) -> None:
    expected = cold_read_reports(sample)
    with open_sample(sample, cold=True) as reader:
        # True on a disk; on tmpfs nothing is evicted (False, or None if it cannot tell).
        assert any(reader.evicted is value for value in expected), (reader.evicted, expected)
        assert reader.read() == sample_bytes(10_000)


def test_a_warm_open_evicts_nothing(sample: Path) -> None:
    with open_sample(sample) as reader:
        assert reader.evicted is False


def test_burn_cpu_counts_this_threads_time_only() -> None:
    results = []

    def burn() -> None:
        results.append(burn_cpu(100))

    threads = [threading.Thread(target=burn) for _ in range(3)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Three threads sharing one GIL: each gets its 100 ms of CPU, so together >= 300 ms.
    assert time.perf_counter() - started >= 0.3
    assert all(100 <= r.cpu_ms < 100 + 50 for r in results)


@pytest.mark.anyio
@pytest.mark.parametrize("source", ["async", "thread"])
async def test_the_producer_waits_before_each_token(source: str) -> None:
    started = time.perf_counter()
    tokens = await collect_tokens(4, 50, source=source)  # type: ignore[arg-type]
    assert tokens == ["token-0 ", "token-1 ", "token-2 ", "token-3 "]
    assert time.perf_counter() - started >= 0.2
    assert open_counts()["producers"] == 0


@pytest.mark.anyio
async def test_a_closed_producer_stops_running() -> None:
    producer = produce_tokens(100, 10)
    assert await next_item(producer) == "token-0 "
    assert open_counts()["producers"] == 1
    await producer.aclose()
    assert open_counts()["producers"] == 0


@pytest.mark.anyio
async def test_next_item_says_done_at_the_end() -> None:
    producer = produce_tokens(1, 0)
    assert await next_item(producer) == "token-0 "
    assert await next_item(producer) is DONE
    with anyio.fail_after(1):
        assert await next_item(producer) is DONE
